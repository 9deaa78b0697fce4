"""Loopback stand-ins for the services the app calls, the page as a person uses it, and small
helpers shared by the tests and the benchmarks."""
