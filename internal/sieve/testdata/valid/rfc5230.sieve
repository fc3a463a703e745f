require ["vacation", "variables"];
if header :matches "subject" "*" {
  vacation :subject "Automatic response to: ${1}"
     "I am on vacation.";
}
vacation :days 7 :from "hemberger@example.com" :addresses ["tjs@example.edu", "ts4z@landru.example.edu"] :handle "ran-away" :mime text:
Content-Type: text/plain

I am away.
.
;
