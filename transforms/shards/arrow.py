"""The Arrow side of token shards: encoded batches, their intermediate files, and the shard files.

An encoded batch (`encoded_table`) has one row per document copy: split, key (the shuffle key),
copy, id, source, text_bytes, num_tokens, input_ids. Between pipeline steps it waits in Arrow IPC
*files* (`to_ipc_file`, `read_ipc_file`, `read_record_batches`), never in a Beam element:
the file format's footer lets a reader take one record batch without reading the others.

Shard files are uncompressed Arrow IPC streams, the format `datasets.Dataset.from_file`
memory-maps. Documents mode: one row per document (copy), in shuffle order:

    input_ids   list<uint16> (list<uint32> where the vocabulary needs it), ending with the eos id
    id          string   the document id (prepare's source:path:position)
    source      string
    num_tokens  uint32   len(input_ids)

Packed mode: the shard's documents, in shuffle order, concatenated and cut into windows of
seq_len + 1 tokens (the last, partial window is dropped and counted):

    input_ids   list<...>       seq_len + 1 ids
    num_tokens  uint32          seq_len + 1
    doc_starts  list<uint32>    offsets in the window where a document begins: a trainer resets
                                positions or attention there
    ids         list<string>    the documents with tokens in the window, in order; the first
                                continues from the previous window where doc_starts does not hold 0
    sources     list<string>    their sources

The same rows always make the same bytes: record batches of ROWS_PER_RECORD_BATCH rows, no
metadata that varies.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.shards.layout import shuffle_key

ROWS_PER_RECORD_BATCH = 1024


def tokens_type(dtype: str) -> pa.DataType:
    return {"uint16": pa.uint16(), "uint32": pa.uint32()}[dtype]


def docs_schema(dtype: str) -> pa.Schema:
    return pa.schema(
        [
            ("input_ids", pa.list_(tokens_type(dtype))),
            ("id", pa.string()),
            ("source", pa.string()),
            ("num_tokens", pa.uint32()),
        ]
    )


def packed_schema(dtype: str) -> pa.Schema:
    return pa.schema(
        [
            ("input_ids", pa.list_(tokens_type(dtype))),
            ("num_tokens", pa.uint32()),
            ("doc_starts", pa.list_(pa.uint32())),
            ("ids", pa.list_(pa.string())),
            ("sources", pa.list_(pa.string())),
        ]
    )


def encoded_schema(dtype: str) -> pa.Schema:
    return pa.schema(
        [
            ("split", pa.string()),
            ("key", pa.uint64()),
            ("copy", pa.uint32()),
            ("id", pa.string()),
            ("source", pa.string()),
            ("text_bytes", pa.uint64()),
            ("num_tokens", pa.uint32()),
            ("input_ids", pa.list_(tokens_type(dtype))),
        ]
    )


def to_ipc_file(tables: list[pa.Table], schema: pa.Schema) -> bytes:
    """An Arrow IPC file with one record batch per table (which must hold rows) in order."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, schema) as writer:
        for table in tables:
            writer.write_batch(table.combine_chunks().to_batches()[0])
    return sink.getvalue().to_pybytes()


def read_ipc_file(source) -> pa.Table:
    """Every record batch of an Arrow IPC file (bytes, or a seekable file object) as a table."""
    return pa.ipc.open_file(source).read_all()


def read_record_batches(source, numbers: list[int]) -> list[pa.Table]:
    """Record batches `numbers` of an Arrow IPC file (a seekable file object: only the footer and
    those batches are read), each as a table."""
    reader = pa.ipc.open_file(source)
    return [pa.Table.from_batches([reader.get_batch(number)]) for number in numbers]


def list_array(offsets: np.ndarray, values: np.ndarray | pa.Array) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32, copy=False)), values)


def take(table: pa.Table, indices: np.ndarray) -> pa.Table:
    """table.take(indices) in one chunk per column. Token lists are gathered by slices straight
    from each chunk: Arrow's take of a list column copies value by value (several times slower for
    long documents), and combining the chunks first would hold every token twice."""
    columns = []
    for column in table.columns:
        if pa.types.is_list(column.type) and pa.types.is_integer(column.type.value_type):
            columns.append(_gather_lists(column, indices))
        else:
            columns.append(column.combine_chunks().take(pa.array(indices, pa.int64())))
    return pa.Table.from_arrays(columns, schema=table.schema)


def _gather_lists(column: pa.ChunkedArray, indices: np.ndarray) -> pa.ListArray:
    chunks = column.chunks or [pa.array([], column.type)]
    offsets = [np.asarray(chunk.offsets) for chunk in chunks]
    # Per row of the whole column: its chunk and where its values lie in that chunk's values.
    owners = np.repeat(np.arange(len(chunks)), [len(chunk) for chunk in chunks])[indices]
    starts = np.concatenate([o[:-1] for o in offsets])[indices]
    ends = np.concatenate([o[1:] for o in offsets])[indices]
    values = [chunk.values.to_numpy() for chunk in chunks]
    gathered = (
        np.concatenate([values[k][a:b] for k, a, b in zip(owners.tolist(), starts.tolist(), ends.tolist())])
        if len(indices)
        else values[0][:0]
    )
    return list_array(np.concatenate([[0], np.cumsum(ends - starts)]), pa.array(gathered))


def encoded_table(
    ids: list[str],
    sources: list[str],
    splits: list[str],
    copies: list[int],
    text_bytes: list[int],
    token_arrays: list[np.ndarray],
    eos_id: int,
    dtype: str,
    seed: int,
) -> pa.Table:
    """Rows for `copies[i]` copies of each document i, its ids followed by `eos_id`."""
    lengths = np.array([len(a) + 1 for a in token_arrays], dtype=np.int64)
    eos = np.array([eos_id], dtype=np.uint32)
    pieces = [piece for array in token_arrays for piece in (array, eos)]
    flat = (np.concatenate(pieces) if pieces else np.empty(0, np.uint32)).astype(dtype)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    documents = pa.table(
        {
            "split": pa.array(splits, pa.string()),
            "key": pa.array(np.zeros(len(ids), np.uint64)),
            "copy": pa.array(np.zeros(len(ids), np.uint32)),
            "id": pa.array(ids, pa.string()),
            "source": pa.array(sources, pa.string()),
            "text_bytes": pa.array(text_bytes, pa.uint64()),
            "num_tokens": pa.array(lengths, pa.uint32()),
            "input_ids": list_array(offsets, pa.array(flat)),
        },
        schema=encoded_schema(dtype),
    )
    row_of = np.repeat(np.arange(len(ids)), copies)
    rows = take(documents, row_of) if len(row_of) != len(ids) else documents
    copy_numbers = [c for n in copies for c in range(n)]
    keys = [shuffle_key(ids[i], c, seed) for i, c in zip(row_of.tolist(), copy_numbers)]
    rows = rows.set_column(rows.schema.get_field_index("key"), "key", pa.array(keys, pa.uint64()))
    return rows.set_column(rows.schema.get_field_index("copy"), "copy", pa.array(copy_numbers, pa.uint32()))


def in_shuffle_order(tables: list[pa.Table], dtype: str) -> pa.Table:
    """The rows of a shard's encoded batches, sorted by shuffle key (then id and copy, should
    two keys ever collide): the same rows in any arrival order give the same table."""
    table = pa.concat_tables(tables) if tables else encoded_schema(dtype).empty_table()
    # The order needs only the small columns; `take` then copies each token once, from its part.
    keys = table.select(["key", "id", "copy"]).combine_chunks()
    order = pc.sort_indices(keys, sort_keys=[("key", "ascending"), ("id", "ascending"), ("copy", "ascending")])
    return take(table, order.to_numpy())


def docs_rows(rows: pa.Table, dtype: str) -> pa.Table:
    return rows.select(docs_schema(dtype).names).cast(docs_schema(dtype))


def packed_rows(rows: pa.Table, dtype: str, window: int) -> tuple[pa.Table, int]:
    """Windows of `window` tokens cut from the rows' tokens in order; (table, tokens dropped)."""
    column = rows.column("input_ids").combine_chunks() if rows.num_rows else pa.array([], pa.list_(tokens_type(dtype)))
    flat = column.flatten().to_numpy(zero_copy_only=False)
    starts = np.asarray(column.offsets)[:-1] - (column.offsets[0].as_py() if len(column) else 0)
    n_windows = len(flat) // window
    used = n_windows * window
    window_starts = np.arange(n_windows + 1, dtype=np.int64) * window
    # Documents beginning in each window, as offsets within it.
    begins = starts[starts < used]
    begin_offsets = np.searchsorted(begins // window, np.arange(n_windows + 1), side="left")
    doc_starts = list_array(begin_offsets, pa.array((begins % window).astype(np.uint32)))
    # Documents with tokens in each window: from the one holding its first token to the one
    # holding its last (every document has at least its eos token, so starts strictly rise).
    first = np.searchsorted(starts, window_starts[:-1], side="right") - 1
    last = np.searchsorted(starts, window_starts[1:] - 1, side="right") - 1
    counts = last - first + 1
    member_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    members = pa.array(np.repeat(first - member_offsets[:-1], counts) + np.arange(member_offsets[-1]), pa.int64())
    table = pa.table(
        {
            "input_ids": list_array(window_starts, pa.array(flat[:used], tokens_type(dtype))),
            "num_tokens": pa.array(np.full(n_windows, window, np.uint32)),
            "doc_starts": doc_starts,
            "ids": list_array(member_offsets, rows.column("id").combine_chunks().take(members)),
            "sources": list_array(member_offsets, rows.column("source").combine_chunks().take(members)),
        },
        schema=packed_schema(dtype),
    )
    return table, len(flat) - used


def shard_bytes(table: pa.Table) -> pa.Buffer:
    """The shard file: an uncompressed IPC stream in record batches of ROWS_PER_RECORD_BATCH rows,
    as a pyarrow Buffer (bytes-like: len, hashlib and file writes take it as it is).

    A shard is the largest thing a worker holds, so it is held once: the stream is measured
    first and then written into a buffer of exactly its size (a growing buffer would reallocate
    on the way, and a bytes copy would hold it a second time)."""
    table = table.combine_chunks()

    def write(sink) -> None:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=ROWS_PER_RECORD_BATCH)

    size = pa.MockOutputStream()
    write(size)
    buffer = pa.allocate_buffer(size.size())
    write(pa.FixedSizeBufferWriter(buffer))
    return buffer


def read_shard(path_or_buffer) -> pa.Table:
    """A shard file (a path, or bytes) as a table, memory-mapped where it is a local path."""
    source = pa.memory_map(path_or_buffer, "r") if isinstance(path_or_buffer, str) else path_or_buffer
    return pa.ipc.open_stream(source).read_all()
