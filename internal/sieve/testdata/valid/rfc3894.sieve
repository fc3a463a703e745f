require ["copy", "fileinto"];
fileinto :copy "incoming";
redirect :copy "other@example.net";
