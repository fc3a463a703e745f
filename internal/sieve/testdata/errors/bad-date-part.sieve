require "date";
if currentdate "century" "21" { keep; }