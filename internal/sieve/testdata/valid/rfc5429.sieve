require ["ereject", "reject"];
if address "from" "someone@example.com" { ereject "I no longer accept mail from this address"; }
if header :contains "subject" "x" { reject text:
Not now.
.
;
}
