require ["include", "variables"];
global "test";
set "test" "x";
include :personal "always_allow";
include :global :once :optional "spam_tests";
if string :is "${global.test}" "x" { return; }
