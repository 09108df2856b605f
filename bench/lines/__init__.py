"""One module per benchmark line; each runs in a fresh process and prints one result line."""
