"""Token shards (`textshards tokenize`).

layout.py    where each document goes: split, copies, shuffle key, shard (pure functions of its id)
arrow.py     the Arrow side: encoded batches and the shard files' schema
write.py     `WriteShards`: encoded batches staged as files, split by shard, each shard read back and written
manifest.py  manifest.json, and `verify`, which re-checks a shard directory against it
export.py    Megatron-LM .bin/.idx and nanoGPT .bin exports
"""
