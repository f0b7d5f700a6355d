"""One RocksDB memory budget per worker, shared by every table partition.

faust opens one RocksDB per table partition, each with its own block cache and memtables: a
worker of intake holds 5 tables × 4 partitions = 20 databases, so a per-database bound multiplies
by 20 and grows with the partition count. RocksDB lets databases of one process share a block
cache and a write-buffer manager that charges the memtables to that cache
(https://github.com/facebook/rocksdb/wiki/Write-Buffer-Manager): the partitions being written get
the memory, idle ones hold none, and block cache plus memtables stay under one limit
(`PN_ROCKSDB_MEMORY_MB`). faust builds its options per table (faust.stores.rocksdb.RocksDBOptions,
a private cache each); `share_memory` swaps them for options over the worker's shared objects.
"""

from __future__ import annotations

from typing import Any

from faust.stores.rocksdb import RocksDBOptions

MB = 1024 * 1024


class MemoryBudget:
    """The shared block cache and write-buffer manager of one worker (rocksdict objects)."""

    def __init__(self, total_mb: int) -> None:
        import rocksdict

        self.total_bytes = total_mb * MB
        self.cache = rocksdict.Cache(self.total_bytes)
        # memtables may take half of the budget before RocksDB flushes the largest; what they
        # hold is charged to the cache, which evicts blocks to stay under the total
        self.write_buffers = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
            self.total_bytes // 2, False, self.cache)

    def usage_bytes(self) -> int:
        """Block cache plus charged memtables, as RocksDB counts them."""
        return int(self.cache.get_usage())


class SharedBudgetOptions(RocksDBOptions):
    """faust's RocksDB options, over the worker's shared cache and write-buffer manager."""

    budget: MemoryBudget

    def as_options(self) -> Any:
        if not self.use_rocksdict:  # python-rocksdb has no shared manager: faust's own options
            return super().as_options()
        import rocksdict

        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_max_open_files(self.max_open_files)
        options.set_write_buffer_size(self.write_buffer_size)
        options.set_max_write_buffer_number(self.max_write_buffer_number)
        options.set_target_file_size_base(self.target_file_size_base)
        options.set_write_buffer_manager(self.budget.write_buffers)
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, block_based=True)
        table.set_block_cache(self.budget.cache)
        # index and bloom filter blocks in the cache too: outside it they grow with the data
        # (a table reader per SST file), inside they are part of the one limit
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        options.set_block_based_table_factory(table)
        return options


def share_memory(table: Any, budget: MemoryBudget) -> None:
    """Make a faust table's RocksDB partitions (opened later, on assignment) use `budget`."""
    store = table.data  # faust's rocksdb Store; built here, its databases open on assignment
    current = getattr(store, "rocksdb_options", None)
    if current is None:  # the in-memory store
        return
    shared = SharedBudgetOptions(
        max_open_files=current.max_open_files, write_buffer_size=current.write_buffer_size,
        max_write_buffer_number=current.max_write_buffer_number,
        target_file_size_base=current.target_file_size_base, bloom_filter_size=current.bloom_filter_size,
        use_rocksdict=current.use_rocksdict, ttl=current.ttl)
    shared.budget = budget
    store.rocksdb_options = shared
