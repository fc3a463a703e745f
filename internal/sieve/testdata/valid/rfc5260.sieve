require ["date", "relational", "fileinto", "index", "variables"];
if allof(header :is "from" "boss@example.com",
         date :value "ge" :originalzone "date" "hour" "09",
         date :value "lt" :originalzone "date" "hour" "17")
{ fileinto "urgent"; }
if currentdate :zone "+0100" :value "ge" "date" "2007-06-30" { discard; }
if date :index 1 :last :zone "-0800" "received" "weekday" "0" { stop; }
if currentdate :matches "year" "*" { set "year" "${1}"; }
