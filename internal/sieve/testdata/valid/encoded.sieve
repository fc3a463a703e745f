require ["encoded-character", "fileinto"];
if header :contains "Subject" "$${hex:24 24}" { discard; }
fileinto "${unicode:48 49}";
