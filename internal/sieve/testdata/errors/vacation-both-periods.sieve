require ["vacation", "vacation-seconds"];
vacation :days 3 :seconds 60 "away";