require "fileinto";
if header :contains "Subject" "\"quoted\"" { fileinto "q\\b"; }
if size :over 100K { discard; }
if anyof (exists "X-Spam", header :is "X-Priority" "1") { keep; stop; }
/* comment */ redirect "bart@example.com";
