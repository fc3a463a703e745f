require "vacation-seconds";
vacation :seconds 1800 "I am busy right now.";
