"""Every table partition of a worker draws on one RocksDB memory budget (PN_ROCKSDB_MEMORY_MB),
so a worker's RocksDB memory does not grow with its tables × partitions."""

from __future__ import annotations

import itertools
import os

import faust

from shared.runtime.rocksdb_memory import MemoryBudget, share_memory

MB = 1024 * 1024
_apps = itertools.count()


def faust_table(tmp_path, store: str = "rocksdb://") -> faust.Table:
    """A real faust table (its app never started: no broker), with faust's own store and options."""
    app = faust.App(f"t{next(_apps)}", broker="kafka://127.0.0.1:1", store=store, datadir=str(tmp_path),
                    autodiscover=False)
    return app.Table("facts", partitions=4, default=None,
                     options={"write_buffer_size": 4 * MB, "max_write_buffer_number": 2})


def test_partitions_of_several_tables_share_one_bounded_budget(tmp_path):
    budget = MemoryBudget(8)
    tables = [faust_table(tmp_path), faust_table(tmp_path)]
    for table in tables:
        share_memory(table, budget)
    dbs = [table.data.rocksdb_options.open(tmp_path / f"{n}-{p}") for n, table in enumerate(tables) for p in range(4)]

    for i in range(100_000):  # 20 MB of values, over 8 databases: 2.5 × the budget
        dbs[i % len(dbs)][f"k{i}".encode()] = os.urandom(200)
    for i in range(0, 100_000, 5):
        assert dbs[i % len(dbs)][f"k{i}".encode()] is not None

    assert budget.write_buffers.get_usage() > 0  # the memtables are counted by the shared manager
    assert budget.write_buffers.get_usage() <= budget.total_bytes // 2 + 4 * MB  # ...and flushed at half
    # cache and memtables under one limit; a soft one: each database's active memtable is charged
    # in arena blocks (here 8 × 512 KiB), and RocksDB evicts after the charge
    assert budget.usage_bytes() <= budget.total_bytes * 1.5
    for db in dbs:
        db.close()


def test_the_in_memory_store_is_left_alone(tmp_path):
    table = faust_table(tmp_path, store="memory://")
    share_memory(table, MemoryBudget(4))
    assert not hasattr(table.data, "rocksdb_options")


def test_the_retired_per_partition_cache_setting_is_named_with_its_replacement():
    from shared.service.settings import retired_in

    assert retired_in({"PN_ROCKSDB_BLOCK_CACHE_MB": "8"}) == [
        "PN_ROCKSDB_BLOCK_CACHE_MB is no longer read: use PN_ROCKSDB_MEMORY_MB "
        "(one RocksDB budget per worker, not per table partition)"]
    assert retired_in({"PN_ROCKSDB_MEMORY_MB": "48"}) == []
