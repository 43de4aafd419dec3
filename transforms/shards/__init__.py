"""Token shards (`textshards tokenize`): where documents go (layout), the Arrow files (arrow),
writing them (write), the manifest and its checks (manifest), exports for other trainers (export)."""
