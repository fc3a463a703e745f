require ["regex", "variables", "fileinto"];
if header :regex "subject" "^\\[([a-z]+)\\] (.*)$" { fileinto "lists/${1}"; }
set :quoteregex "q" "a.b";
