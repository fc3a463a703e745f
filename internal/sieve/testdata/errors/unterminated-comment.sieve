keep; /* never
closed