require "relational";
if header :value "bigger" "x" "1" { keep; }