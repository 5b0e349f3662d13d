"""An in-memory HBase Thrift (v1) server: the stand-in for HBase, which cannot be installed here.

It speaks the real wire protocol (happybase's own `Hbase.thrift`, buffered transport, binary
protocol, as an HBase `thrift -threadpool` server does), so happybase talks to it unchanged.
Semantics follow HBase where the context store relies on them:
- every cell keeps versions `(timestamp, value)`, newest timestamp first, at most the family's
  `maxVersions`; a put with an existing timestamp replaces that version; reads return the newest;
- timestamped reads (`...Ts`, `TScan.timestamp`) see versions strictly older than the timestamp,
  like the Java server's `setTimeRange(0, ts)`;
- deletes leave markers: a cell with a timestamp <= a marker is hidden, including ones put later,
  until `majorCompact` drops the markers;
- puts and deletes without a timestamp use the server clock in epoch millis.
One lock serialises every call, so each row mutation is atomic as in HBase. Calls the context
store does not need (`checkAndPut`, `append`, `increment`, ...) fail with an IOError naming them.

Run: `python -m devtools.hbase_thrift --port 9090`.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import happybase  # noqa: F401 - loads the `Hbase_thrift` module from happybase's IDL, so the types match
from Hbase_thrift import (
    AlreadyExists,
    BatchMutation,
    ColumnDescriptor,
    Hbase,
    IllegalArgument,
    Mutation,
    TCell,
    TColumn,
    TRegionInfo,
    TRowResult,
    TScan,
)
from Hbase_thrift import IOError as HBaseIOError
from thriftpy2.protocol import TBinaryProtocolFactory
from thriftpy2.rpc import make_server
from thriftpy2.transport import TBufferedTransportFactory

logger = logging.getLogger("devtools.hbase_thrift")

LATEST_TIMESTAMP = 2**63 - 1  # HBase's "use the server clock"
NO_UPPER_BOUND = LATEST_TIMESTAMP
Versions = list[tuple[int, bytes]]  # (timestamp, value), newest first


def now_millis() -> int:
    return int(time.time() * 1000)


def split_column(column: bytes) -> tuple[bytes, bytes | None]:
    """`cf` names a family (qualifier None); `cf:q` a column, and `cf:` the empty qualifier, as in
    HBase's own Thrift server (KeyValue.parseColumn), whatever older happybase docs say."""
    family, colon, qualifier = column.partition(b":")
    return family, qualifier if colon else None


@dataclass
class Row:
    cells: dict[bytes, Versions] = field(default_factory=dict)
    family_markers: dict[bytes, int] = field(default_factory=dict)
    column_markers: dict[bytes, int] = field(default_factory=dict)

    def marker(self, column: bytes) -> int:
        family, _ = split_column(column)
        return max(self.family_markers.get(family, -1), self.column_markers.get(column, -1))

    def put(self, column: bytes, timestamp: int, value: bytes, max_versions: int) -> None:
        if timestamp <= self.marker(column):
            return  # hidden by a delete marker, as in HBase before a major compaction
        versions = [v for v in self.cells.get(column, []) if v[0] != timestamp] + [(timestamp, value)]
        versions.sort(key=lambda version: version[0], reverse=True)
        self.cells[column] = versions[:max_versions]

    def delete(self, timestamp: int, family: bytes, qualifier: bytes | None = None) -> None:
        """Mark deleted every version <= timestamp of the family, or of one column of it."""
        if qualifier is None:
            markers, name = self.family_markers, family
        else:
            markers, name = self.column_markers, family + b":" + qualifier
        markers[name] = max(timestamp, markers.get(name, -1))
        for column in list(self.cells):
            self.cells[column] = [v for v in self.cells[column] if v[0] > self.marker(column)]
            if not self.cells[column]:
                del self.cells[column]

    def select(self, columns: list[bytes] | None, before: int, versions: int = 1) -> dict[bytes, Versions]:
        """The newest `versions` versions older than `before` of the requested columns."""
        wanted = [split_column(c) for c in columns or []]
        result = {}
        for name, cell_versions in self.cells.items():
            family, qualifier = split_column(name)
            if wanted and not any(f == family and (q is None or q == qualifier) for f, q in wanted):
                continue
            visible = [v for v in cell_versions if v[0] < before][:versions]
            if visible:
                result[name] = visible
        return result


@dataclass
class Table:
    families: dict[bytes, ColumnDescriptor]  # family name without the colon
    enabled: bool = True
    rows: dict[bytes, Row] = field(default_factory=dict)

    def max_versions(self, column: bytes) -> int:
        family, _ = split_column(column)
        if family not in self.families:
            raise HBaseIOError(message=f"NoSuchColumnFamilyException: {family!r}")
        return max(1, self.families[family].maxVersions)


@dataclass
class Scanner:
    table: bytes
    start: bytes
    stop: bytes | None
    columns: list[bytes] | None
    before: int
    sort_columns: bool
    reversed: bool
    last_row: bytes | None = None


def row_result(key: bytes, cells: dict[bytes, Versions], sort_columns: bool = False) -> TRowResult:
    newest = {name: TCell(value=versions[0][1], timestamp=versions[0][0]) for name, versions in cells.items()}
    if sort_columns:
        return TRowResult(row=key, sortedColumns=[TColumn(columnName=n, cell=newest[n]) for n in sorted(newest)])
    return TRowResult(row=key, columns=newest)


def effective_timestamp(timestamp: int | None) -> int:
    return now_millis() if timestamp is None or timestamp == LATEST_TIMESTAMP else timestamp


def prefix_stop(prefix: bytes) -> bytes | None:
    """The first row key after every key starting with `prefix` (None: no upper bound)."""
    stripped = prefix.rstrip(b"\xff")
    return stripped[:-1] + bytes([stripped[-1] + 1]) if stripped else None


class HBaseHandler:
    """The Hbase service methods, named and ordered as in Hbase.thrift; callers hold the lock."""

    def __init__(self, port: int = 0) -> None:
        self.tables: dict[bytes, Table] = {}
        self.scanners: dict[int, Scanner] = {}
        self.scanner_ids = itertools.count(1)
        self.port = port

    # --- tables
    def _table(self, name: bytes, enabled: bool = True) -> Table:
        table = self.tables.get(name)
        if table is None:
            raise HBaseIOError(message=f"TableNotFoundException: {name!r}")
        if enabled and not table.enabled:
            raise HBaseIOError(message=f"TableNotEnabledException: {name!r}")
        return table

    def enableTable(self, tableName: bytes) -> None:
        table = self._table(tableName, enabled=False)
        if table.enabled:
            raise HBaseIOError(message=f"TableNotDisabledException: {tableName!r}")
        table.enabled = True

    def disableTable(self, tableName: bytes) -> None:
        self._table(tableName).enabled = False

    def isTableEnabled(self, tableName: bytes) -> bool:
        return self._table(tableName, enabled=False).enabled

    def compact(self, tableNameOrRegionName: bytes) -> None:
        self._table(tableNameOrRegionName, enabled=False)

    def majorCompact(self, tableNameOrRegionName: bytes) -> None:
        for row in self._table(tableNameOrRegionName, enabled=False).rows.values():
            row.family_markers.clear()
            row.column_markers.clear()

    def getTableNames(self) -> list[bytes]:
        return sorted(self.tables)

    def getColumnDescriptors(self, tableName: bytes) -> dict[bytes, ColumnDescriptor]:
        return {descriptor.name: descriptor for descriptor in self._table(tableName, enabled=False).families.values()}

    def getTableRegions(self, tableName: bytes) -> list[TRegionInfo]:
        self._table(tableName, enabled=False)
        return [TRegionInfo(startKey=b"", endKey=b"", id=1, name=tableName + b",,1", version=1,
                            serverName=b"localhost", port=self.port)]

    def createTable(self, tableName: bytes, columnFamilies: list[ColumnDescriptor]) -> None:
        if tableName in self.tables:
            raise AlreadyExists(message=f"table {tableName!r} already exists")
        if not tableName or not columnFamilies:
            raise IllegalArgument(message="a table needs a name and at least one column family")
        families = {}
        for descriptor in columnFamilies:
            family, _ = split_column(descriptor.name)
            descriptor.name = family + b":"
            families[family] = descriptor
        self.tables[tableName] = Table(families)

    def deleteTable(self, tableName: bytes) -> None:
        if self._table(tableName, enabled=False).enabled:
            raise HBaseIOError(message=f"TableNotDisabledException: {tableName!r}")
        del self.tables[tableName]

    # --- reads
    def _cells(self, table: bytes, row: bytes, columns: list[bytes] | None, before: int,
               versions: int = 1) -> dict[bytes, Versions]:
        found = self._table(table).rows.get(row)
        return found.select(columns, before, versions) if found else {}

    def _row_results(self, table: bytes, rows: list[bytes], columns: list[bytes] | None,
                     before: int) -> list[TRowResult]:
        results = []
        for key in rows:
            cells = self._cells(table, key, columns, before)
            if cells:
                results.append(row_result(key, cells))
        return results

    def get(self, tableName: bytes, row: bytes, column: bytes, attributes: dict) -> list[TCell]:
        return self.getVer(tableName, row, column, 1, attributes)

    def getVer(self, tableName: bytes, row: bytes, column: bytes, numVersions: int, attributes: dict) -> list[TCell]:
        return self.getVerTs(tableName, row, column, NO_UPPER_BOUND, numVersions, attributes)

    def getVerTs(self, tableName: bytes, row: bytes, column: bytes, timestamp: int, numVersions: int,
                 attributes: dict) -> list[TCell]:
        cells = self._cells(tableName, row, [column], timestamp, numVersions)
        return [TCell(value=value, timestamp=ts) for versions in cells.values() for ts, value in versions]

    def getRow(self, tableName: bytes, row: bytes, attributes: dict) -> list[TRowResult]:
        return self._row_results(tableName, [row], None, NO_UPPER_BOUND)

    def getRowWithColumns(self, tableName: bytes, row: bytes, columns: list[bytes], attributes: dict):
        return self._row_results(tableName, [row], columns, NO_UPPER_BOUND)

    def getRowTs(self, tableName: bytes, row: bytes, timestamp: int, attributes: dict) -> list[TRowResult]:
        return self._row_results(tableName, [row], None, timestamp)

    def getRowWithColumnsTs(self, tableName: bytes, row: bytes, columns: list[bytes], timestamp: int,
                            attributes: dict) -> list[TRowResult]:
        return self._row_results(tableName, [row], columns, timestamp)

    def getRows(self, tableName: bytes, rows: list[bytes], attributes: dict) -> list[TRowResult]:
        return self._row_results(tableName, rows, None, NO_UPPER_BOUND)

    def getRowsWithColumns(self, tableName: bytes, rows: list[bytes], columns: list[bytes], attributes: dict):
        return self._row_results(tableName, rows, columns, NO_UPPER_BOUND)

    def getRowsTs(self, tableName: bytes, rows: list[bytes], timestamp: int, attributes: dict) -> list[TRowResult]:
        return self._row_results(tableName, rows, None, timestamp)

    def getRowsWithColumnsTs(self, tableName: bytes, rows: list[bytes], columns: list[bytes], timestamp: int,
                             attributes: dict) -> list[TRowResult]:
        return self._row_results(tableName, rows, columns, timestamp)

    # --- writes
    def _mutate(self, table_name: bytes, key: bytes, mutations: list[Mutation], timestamp: int | None) -> None:
        table = self._table(table_name)
        timestamp = effective_timestamp(timestamp)
        for mutation in mutations:  # validate first: a row mutation is all or nothing
            table.max_versions(mutation.column)
        row = table.rows.setdefault(key, Row())
        for mutation in mutations:
            family, qualifier = split_column(mutation.column)
            if mutation.isDelete:
                row.delete(timestamp, family, qualifier)
            else:
                column = family + b":" + (qualifier or b"")
                row.put(column, timestamp, mutation.value or b"", table.max_versions(column))

    def mutateRow(self, tableName: bytes, row: bytes, mutations: list[Mutation], attributes: dict) -> None:
        self._mutate(tableName, row, mutations, None)

    def mutateRowTs(self, tableName: bytes, row: bytes, mutations: list[Mutation], timestamp: int,
                    attributes: dict) -> None:
        self._mutate(tableName, row, mutations, timestamp)

    def mutateRows(self, tableName: bytes, rowBatches: list[BatchMutation], attributes: dict) -> None:
        self.mutateRowsTs(tableName, rowBatches, None, attributes)

    def mutateRowsTs(self, tableName: bytes, rowBatches: list[BatchMutation], timestamp: int | None,
                     attributes: dict) -> None:
        for batch in rowBatches:
            self._mutate(tableName, batch.row, batch.mutations, timestamp)

    def atomicIncrement(self, tableName: bytes, row: bytes, column: bytes, value: int) -> int:
        table = self._table(tableName)
        current = self._cells(tableName, row, [column], NO_UPPER_BOUND).get(column)
        old = current[0][1] if current else struct.pack(">q", 0)
        if len(old) != 8:
            raise HBaseIOError(message=f"Field is not a long, it's {len(old)} bytes wide")
        new = struct.unpack(">q", old)[0] + value
        # Like HBase, the new version takes the server clock, or just above the current version.
        timestamp = max(now_millis(), current[0][0] + 1 if current else 0)
        table.rows.setdefault(row, Row()).put(column, timestamp, struct.pack(">q", new), table.max_versions(column))
        return new

    def deleteAll(self, tableName: bytes, row: bytes, column: bytes, attributes: dict) -> None:
        self.deleteAllTs(tableName, row, column, LATEST_TIMESTAMP, attributes)

    def deleteAllTs(self, tableName: bytes, row: bytes, column: bytes, timestamp: int, attributes: dict) -> None:
        self._mutate(tableName, row, [Mutation(isDelete=True, column=column)], timestamp)

    def deleteAllRow(self, tableName: bytes, row: bytes, attributes: dict) -> None:
        self.deleteAllRowTs(tableName, row, LATEST_TIMESTAMP, attributes)

    def deleteAllRowTs(self, tableName: bytes, row: bytes, timestamp: int, attributes: dict) -> None:
        table, timestamp = self._table(tableName), effective_timestamp(timestamp)
        for family in table.families:
            table.rows.setdefault(row, Row()).delete(timestamp, family)

    # --- scanners
    def _open(self, table: bytes, start: bytes | None, stop: bytes | None, columns: list[bytes] | None,
              before: int | None = None, sort_columns: bool = False, reverse: bool = False) -> int:
        self._table(table)
        scanner_id = next(self.scanner_ids)
        self.scanners[scanner_id] = Scanner(table, start or b"", stop or None, columns or None,
                                            NO_UPPER_BOUND if before is None else before, sort_columns, reverse)
        return scanner_id

    def scannerOpenWithScan(self, tableName: bytes, scan: TScan, attributes: dict) -> int:
        if scan.filterString or scan.batchSize:
            raise HBaseIOError(message="the HBase stand-in supports no scan filter strings nor scan batching")
        return self._open(tableName, scan.startRow, scan.stopRow, scan.columns, scan.timestamp,
                          bool(scan.sortColumns), bool(scan.reversed))

    def scannerOpen(self, tableName: bytes, startRow: bytes, columns: list[bytes], attributes: dict) -> int:
        return self._open(tableName, startRow, None, columns)

    def scannerOpenWithStop(self, tableName: bytes, startRow: bytes, stopRow: bytes, columns: list[bytes],
                            attributes: dict) -> int:
        return self._open(tableName, startRow, stopRow, columns)

    def scannerOpenWithPrefix(self, tableName: bytes, startAndPrefix: bytes, columns: list[bytes],
                              attributes: dict) -> int:
        return self._open(tableName, startAndPrefix, prefix_stop(startAndPrefix), columns)

    def scannerOpenTs(self, tableName: bytes, startRow: bytes, columns: list[bytes], timestamp: int,
                      attributes: dict) -> int:
        return self._open(tableName, startRow, None, columns, timestamp)

    def scannerOpenWithStopTs(self, tableName: bytes, startRow: bytes, stopRow: bytes, columns: list[bytes],
                              timestamp: int, attributes: dict) -> int:
        return self._open(tableName, startRow, stopRow, columns, timestamp)

    def _scanner(self, scanner_id: int) -> Scanner:
        if scanner_id not in self.scanners:
            raise IllegalArgument(message=f"scanner id {scanner_id} is not open")
        return self.scanners[scanner_id]

    @staticmethod
    def _in_range(scanner: Scanner, key: bytes) -> bool:
        if scanner.reversed:  # from the (inclusive) start row down to the (exclusive) stop row
            return (not scanner.start or key <= scanner.start) and (scanner.stop is None or key > scanner.stop)
        return key >= scanner.start and (scanner.stop is None or key < scanner.stop)

    def _scan_rows(self, scanner: Scanner) -> Iterator[TRowResult]:
        for key in sorted(self._table(scanner.table).rows, reverse=scanner.reversed):
            after_last = scanner.last_row is None or (key < scanner.last_row if scanner.reversed
                                                      else key > scanner.last_row)
            if after_last and self._in_range(scanner, key):
                cells = self._cells(scanner.table, key, scanner.columns, scanner.before)
                if cells:
                    yield row_result(key, cells, scanner.sort_columns)

    def scannerGet(self, scanner_id: int) -> list[TRowResult]:
        return self.scannerGetList(scanner_id, 1)

    def scannerGetList(self, scanner_id: int, nbRows: int) -> list[TRowResult]:
        scanner = self._scanner(scanner_id)
        results = list(itertools.islice(self._scan_rows(scanner), max(nbRows, 1)))
        if results:
            scanner.last_row = results[-1].row
        return results

    def scannerClose(self, scanner_id: int) -> None:
        self._scanner(scanner_id)
        del self.scanners[scanner_id]


class Dispatcher:
    """What thriftpy2's processor calls: serialises calls and turns failures into declared exceptions."""

    def __init__(self, handler: HBaseHandler) -> None:
        self._handler = handler
        self._lock = threading.Lock()

    def __getattr__(self, api: str) -> Callable:
        if api not in Hbase.thrift_services:
            raise AttributeError(api)
        method = getattr(self._handler, api, None)
        declared = tuple(spec[2] for spec in getattr(Hbase, f"{api}_result").thrift_spec.values()
                         if spec[1] != "success")

        def call(*args):
            if method is None:
                raise HBaseIOError(message=f"{api} is not implemented by the HBase Thrift stand-in")
            try:
                with self._lock:
                    return method(*args)
            except declared:
                raise
            except Exception as exc:  # an unexpected failure must not drop the client's connection
                logger.exception("%s failed", api)
                raise HBaseIOError(message=f"{api}: {type(exc).__name__}: {exc}") from exc

        return call


def serve(host: str, port: int, client_timeout_ms: int = 0) -> None:
    server = make_server(
        Hbase, Dispatcher(HBaseHandler(port)), host=host, port=port,
        proto_factory=TBinaryProtocolFactory(decode_response=False), trans_factory=TBufferedTransportFactory(),
        client_timeout=client_timeout_ms,
    )
    server.daemon = True  # connection threads must not keep a stopped server alive
    logger.info("HBase Thrift stand-in listening on %s:%s", host, port)
    server.serve()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9090)
    parser.add_argument("--client-timeout-ms", type=int, default=0,
                        help="close connections idle this long, like a real Thrift server (0: never)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    serve(args.host, args.port, args.client_timeout_ms)


if __name__ == "__main__":
    main()
