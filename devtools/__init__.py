"""Developer tooling behind `make demo`, `make test` and `make bench`: not shipped with the package."""
