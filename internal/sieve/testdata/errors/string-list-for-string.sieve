require "fileinto";
fileinto ["a", "b"];