require ["body", "fileinto"];
if body :content "text" :contains ["missile", "coordinates"] {
    fileinto "secrets";
}
if body :raw :contains "MAKE MONEY FAST" { discard; }
if body :text :contains "x" { stop; }
