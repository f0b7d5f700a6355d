"""The one place that touches faust, aiokafka's internals and RocksDB: app, feed, changelog, hooks."""
