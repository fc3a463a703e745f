keep
discard;