require ["duplicate", "variables", "fileinto", "imap4flags"];
if duplicate { discard; }
if header :matches "subject" "ALERT: *" {
  if duplicate :seconds 60 :uniqueid "${1}" { setflag "\\seen"; }
}
if duplicate :header "X-Event-ID" :handle "notifier" :last { discard; }
