require "include";
include "../etc/passwd";