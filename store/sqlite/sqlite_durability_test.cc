// Durability of the embedded SQLite store: every committed write reaches stable storage before
// the call returns. A kill -9 of the server cannot show this (the kernel keeps what the process
// wrote; tests/e2e/crash.test.mjs passes with synchronous=OFF too), but a power cut or kernel
// crash can: it loses whatever was written but not fsync'ed. So these tests wrap SQLite's
// default VFS, count the xSync calls per file, and check that creating and revoking an API token
// syncs the write-ahead log before returning (WAL + synchronous=FULL). With synchronous=NORMAL
// a WAL commit is only synced at checkpoints, and these tests fail.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/random.h"
#include "store/sqlite/sqlite_database.h"
#include "store/store.h"

namespace cl::store {
namespace {

// ---------------------------------------------------------------------------------------------
// A VFS that forwards everything to the default one and counts syncs of "-wal" and main files.

std::atomic<int> g_wal_syncs{0};
std::atomic<int> g_db_syncs{0};
std::atomic<int> g_wal_writes{0};
sqlite3_vfs* g_real = nullptr;

struct CountingFile {
  sqlite3_file base;  // must be first: SQLite sees a CountingFile as a sqlite3_file
  sqlite3_file* real;
  bool wal;
  bool main_db;
};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<CountingFile*>(f)->real; }

int Close(sqlite3_file* f) {
  sqlite3_file* real = Real(f);
  int rc = real->pMethods ? real->pMethods->xClose(real) : SQLITE_OK;
  sqlite3_free(real);
  return rc;
}
int Read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return Real(f)->pMethods->xRead(Real(f), buf, n, off);
}
int Write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (reinterpret_cast<CountingFile*>(f)->wal) ++g_wal_writes;
  return Real(f)->pMethods->xWrite(Real(f), buf, n, off);
}
int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int Sync(sqlite3_file* f, int flags) {
  auto* cf = reinterpret_cast<CountingFile*>(f);
  if (cf->wal) ++g_wal_syncs;
  if (cf->main_db) ++g_db_syncs;
  return Real(f)->pMethods->xSync(Real(f), flags);
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Real(f)->pMethods->xFileSize(Real(f), size);
}
int Lock(sqlite3_file* f, int level) { return Real(f)->pMethods->xLock(Real(f), level); }
int Unlock(sqlite3_file* f, int level) { return Real(f)->pMethods->xUnlock(Real(f), level); }
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int ShmMap(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return Real(f)->pMethods->xShmMap(Real(f), page, size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int ShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }
int Fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  return Real(f)->pMethods->xFetch(Real(f), off, n, out);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return Real(f)->pMethods->xUnfetch(Real(f), off, p);
}

const sqlite3_io_methods kMethods = {
    .iVersion = 3,
    .xClose = Close,
    .xRead = Read,
    .xWrite = Write,
    .xTruncate = Truncate,
    .xSync = Sync,
    .xFileSize = FileSize,
    .xLock = Lock,
    .xUnlock = Unlock,
    .xCheckReservedLock = CheckReservedLock,
    .xFileControl = FileControl,
    .xSectorSize = SectorSize,
    .xDeviceCharacteristics = DeviceCharacteristics,
    .xShmMap = ShmMap,
    .xShmLock = ShmLock,
    .xShmBarrier = ShmBarrier,
    .xShmUnmap = ShmUnmap,
    .xFetch = Fetch,
    .xUnfetch = Unfetch,
};

int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* cf = reinterpret_cast<CountingFile*>(f);
  cf->base.pMethods = nullptr;
  cf->real = static_cast<sqlite3_file*>(sqlite3_malloc(g_real->szOsFile));
  if (cf->real == nullptr) return SQLITE_NOMEM;
  std::memset(cf->real, 0, g_real->szOsFile);
  cf->wal = (flags & SQLITE_OPEN_WAL) != 0;
  cf->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  int rc = g_real->xOpen(g_real, name, cf->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    sqlite3_free(cf->real);
    cf->real = nullptr;
    return rc;
  }
  // Only a file the real VFS opened gets methods (SQLite closes only files with methods).
  cf->base.pMethods = &kMethods;
  return rc;
}

int Delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return g_real->xDelete(g_real, name, sync_dir);
}
int Access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_real->xAccess(g_real, name, flags, out);
}
int FullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* DlOpen(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void DlError(sqlite3_vfs*, int n, char* msg) { g_real->xDlError(g_real, n, msg); }
void (*DlSym(sqlite3_vfs*, void* h, const char* sym))(void) {
  return g_real->xDlSym(g_real, h, sym);
}
void DlClose(sqlite3_vfs*, void* h) { g_real->xDlClose(g_real, h); }
int Randomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int Sleep(sqlite3_vfs*, int us) { return g_real->xSleep(g_real, us); }
int CurrentTime(sqlite3_vfs*, double* out) { return g_real->xCurrentTime(g_real, out); }
int GetLastError(sqlite3_vfs*, int n, char* out) {
  return g_real->xGetLastError ? g_real->xGetLastError(g_real, n, out) : 0;
}
int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) {
  return g_real->xCurrentTimeInt64(g_real, out);
}

sqlite3_vfs g_counting;

// Makes the counting VFS the default one, so OpenSqliteDatabase() uses it unchanged.
void InstallCountingVfs() {
  if (g_real != nullptr) return;
  g_real = sqlite3_vfs_find(nullptr);
  ASSERT_NE(g_real, nullptr);
  ASSERT_GE(g_real->iVersion, 2);
  g_counting = sqlite3_vfs{};
  g_counting.iVersion = 2;
  g_counting.szOsFile = static_cast<int>(sizeof(CountingFile));
  g_counting.mxPathname = g_real->mxPathname;
  g_counting.zName = "cl-sync-counting";
  g_counting.xOpen = Open;
  g_counting.xDelete = Delete;
  g_counting.xAccess = Access;
  g_counting.xFullPathname = FullPathname;
  g_counting.xDlOpen = DlOpen;
  g_counting.xDlError = DlError;
  g_counting.xDlSym = DlSym;
  g_counting.xDlClose = DlClose;
  g_counting.xRandomness = Randomness;
  g_counting.xSleep = Sleep;
  g_counting.xCurrentTime = CurrentTime;
  g_counting.xGetLastError = GetLastError;
  g_counting.xCurrentTimeInt64 = CurrentTimeInt64;
  ASSERT_EQ(sqlite3_vfs_register(&g_counting, /*makeDflt=*/1), SQLITE_OK);
}

// ---------------------------------------------------------------------------------------------

std::string Uuid() {
  SystemRandom rnd;
  return NewUuid(rnd);
}

class SqliteDurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InstallCountingVfs();
    dir_ = std::filesystem::temp_directory_path() / ("cl-durability-" + Uuid());
    path_ = (dir_ / "cl.db").string();
    auto db = OpenSqliteDatabase(path_);
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    auto st = db_->Migrate();
    ASSERT_TRUE(st) << st.error().ToString();

    User u;
    u.id = Uuid();
    u.issuer = "https://idp.example";
    u.subject = "owner";
    u.email = "owner@example.com";
    u.created_at = u.updated_at = kNow;
    auto user = db_->UpsertUser(u);
    ASSERT_TRUE(user) << user.error().ToString();
    org_id_ = Uuid();
    Membership m;
    m.org_id = org_id_;
    m.user_id = user->id;
    m.role = OrgRole::kOwner;
    m.created_at = kNow;
    auto org = db_->CreateOrganization(Organization{org_id_, "acme", kNow, std::nullopt}, m,
                                       Event("organization.created", org_id_));
    ASSERT_TRUE(org) << org.error().ToString();
  }
  void TearDown() override {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  AuditEvent Event(const std::string& action, const std::string& target) {
    AuditEvent e;
    e.id = Uuid();
    e.org_id = org_id_;
    e.actor_kind = "user";
    e.actor_id = "owner";
    e.actor_name = "owner@example.com";
    e.action = action;
    e.target_kind = "api_token";
    e.target_id = target;
    e.message = action;
    e.created_at = kNow;
    return e;
  }

  ApiToken Token(const std::string& name) {
    ApiToken t;
    t.id = Uuid();
    t.org_id = org_id_;
    t.name = name;
    t.token_hash = Uuid() + Uuid();
    t.permissions = {"workflow_run:create"};
    t.created_by_kind = "user";
    t.created_by_id = "owner";
    t.created_by_name = "owner@example.com";
    t.created_at = kNow;
    return t;
  }

  static void ResetCounters() {
    g_wal_syncs = 0;
    g_db_syncs = 0;
    g_wal_writes = 0;
  }

  static constexpr UnixMillis kNow = 1'700'000'000'000;
  std::filesystem::path dir_;
  std::string path_;
  std::string org_id_;
  std::unique_ptr<Database> db_;
};

TEST_F(SqliteDurabilityTest, TheDatabaseUsesAWriteAheadLog) {
  // The WAL is what makes a commit one append plus one sync, and lets readers run alongside.
  ResetCounters();
  auto st = db_->CreateApiToken(Token("ci"), Event("api_token.created", "x"));
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_GT(g_wal_writes.load(), 0) << "the commit did not go through a -wal file";
  EXPECT_TRUE(std::filesystem::exists(path_ + "-wal"));
}

TEST_F(SqliteDurabilityTest, CreatingAnApiTokenSyncsBeforeReturning) {
  ResetCounters();
  ApiToken t = Token("ci");
  auto st = db_->CreateApiToken(t, Event("api_token.created", t.id));
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_GE(g_wal_syncs.load() + g_db_syncs.load(), 1)
      << "an acknowledged token creation was not synced to disk (synchronous below FULL?)";
}

TEST_F(SqliteDurabilityTest, EveryRevocationSyncsBeforeReturning) {
  ApiToken a = Token("a");
  ApiToken b = Token("b");
  ASSERT_TRUE(db_->CreateApiToken(a, Event("api_token.created", a.id)));
  ASSERT_TRUE(db_->CreateApiToken(b, Event("api_token.created", b.id)));
  for (const ApiToken* t : {&a, &b}) {
    ResetCounters();
    auto st = db_->RevokeApiToken(org_id_, t->id, kNow + 1, RevocationReason::kManual,
                                  "owner@example.com", Event("api_token.revoked", t->id));
    ASSERT_TRUE(st) << st.error().ToString();
    // A revocation lost in a power cut would let a leaked token back in after the reboot.
    EXPECT_GE(g_wal_syncs.load() + g_db_syncs.load(), 1)
        << "revocation of " << t->name << " returned before reaching the disk";
  }
}

TEST_F(SqliteDurabilityTest, AFailedWriteDoesNotSync) {
  // The counter really measures commits: a refused write (duplicate active name) commits nothing.
  ASSERT_TRUE(db_->CreateApiToken(Token("dup"), Event("api_token.created", "x")));
  ResetCounters();
  auto st = db_->CreateApiToken(Token("dup"), Event("api_token.created", "y"));
  ASSERT_FALSE(st);
  EXPECT_EQ(g_wal_syncs.load() + g_db_syncs.load(), 0);
}

// The page cache (sqlite_cache_mib) is the one part of the server's memory that grows with the
// database: it must stay within the configured bound while a large table is read.
TEST_F(SqliteDurabilityTest, PageCacheStaysWithinTheConfiguredBound) {
  constexpr int kEvents = 300;
  const std::string message(20 * 1024, 'm');  // 300 x 20 KiB: about 6 MiB of rows
  for (int i = 0; i < kEvents; ++i) {
    AuditEvent e = Event("api_token.created", "t" + std::to_string(i));
    e.message = message;
    ASSERT_TRUE(db_->AppendAuditEvent(e));
  }
  db_.reset();
  // Bytes SQLite allocates while the whole table is read by a freshly opened connection.
  auto read_all_growth = [&](int cache_mib) -> int64_t {
    auto db = OpenSqliteDatabase(path_, cache_mib);
    EXPECT_TRUE(db) << db.error().ToString();
    if (!db) return -1;
    const sqlite3_int64 before = sqlite3_memory_used();
    sqlite3_memory_highwater(/*resetFlag=*/1);
    auto events = (*db)->ListAuditEvents(org_id_, kEvents + 10);
    EXPECT_TRUE(events) << events.error().ToString();
    if (events) {
      EXPECT_GE(events->size(), static_cast<size_t>(kEvents));
    }
    return sqlite3_memory_highwater(/*resetFlag=*/0) - before;
  };
  const int64_t small = read_all_growth(1);
  const int64_t large = read_all_growth(64);
  std::printf("sqlite read-all growth: 1 MiB cache %lld bytes, 64 MiB cache %lld bytes\n",
              static_cast<long long>(small), static_cast<long long>(large));
  // Besides the cache, reading allocates the sorter's and the rows' buffers (~2 MiB here).
  EXPECT_LT(small, 4 * 1024 * 1024) << "1 MiB cache grew by " << small << " bytes";
  EXPECT_GT(large, small + 4 * 1024 * 1024) << "64 MiB cache grew by only " << large << " bytes";
  EXPECT_FALSE(OpenSqliteDatabase(path_, 0));
  EXPECT_FALSE(OpenSqliteDatabase(path_, 4097));
}

}  // namespace
}  // namespace cl::store
