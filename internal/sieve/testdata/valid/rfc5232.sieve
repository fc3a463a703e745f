require ["imap4flags", "fileinto"];
if size :over 500K {
    setflag "\\Deleted";
}
if header :contains "from" "boss@frobnitzm.example.edu" {
    setflag "\\Flagged";
    fileinto :flags "\\Seen" "INBOX.From Boss";
}
addflag ["\\Seen", "$Work"];
removeflag "\\Seen";
if hasflag :contains "Work" { keep :flags "\\Answered"; }
