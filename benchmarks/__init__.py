"""Speed and memory benchmarks against peer libraries (snnTorch, SpikingJelly, Norse); run by hand, not in CI."""
