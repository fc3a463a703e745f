require "encoded-character";
if header :is "subject" "${unicode:D800}" { keep; }