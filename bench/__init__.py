"""Benchmarks of netbox-sso against stock NetBox (see bench/README.md); entry point: bench/run."""
