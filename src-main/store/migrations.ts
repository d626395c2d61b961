/**
 * The run store's schema as an ordered list of migrations; `PRAGMA user_version` is the number applied.
 * Never edit a migration that has shipped: add the next one. Each runs in one transaction with the version bump.
 *
 * Conventions: times are ISO-8601 UTC text; JSON columns end in `_json`; metric columns use the events' names in
 * snake_case; per-run tables are WITHOUT ROWID keyed by (run_id, …) so a run's rows sit together on disk.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

/** The triggers that keep runs.final_json / best_json equal to what epoch_metrics says (migration 2). */
function outcomeTriggers(): string {
  const refresh = (run: string) => `
    UPDATE runs SET
      final_json = (SELECT json_object('epoch', epoch, 'loss', loss, 'accuracy', accuracy, 'testLoss', test_loss,
          'testAccuracy', test_accuracy)
        FROM epoch_metrics WHERE run_id = ${run} ORDER BY epoch DESC LIMIT 1),
      best_json = (SELECT json_object('testAccuracy', a.test_accuracy, 'epoch', a.epoch, 'testLoss', l.test_loss,
          'testLossEpoch', l.epoch)
        FROM (SELECT test_accuracy, epoch FROM epoch_metrics WHERE run_id = ${run}
              ORDER BY test_accuracy DESC, epoch LIMIT 1) a
        LEFT JOIN (SELECT test_loss, epoch FROM epoch_metrics WHERE run_id = ${run} AND test_loss IS NOT NULL
              ORDER BY test_loss, epoch LIMIT 1) l)
    WHERE id = ${run};`;
  return `
    CREATE TRIGGER epoch_metrics_outcome_insert AFTER INSERT ON epoch_metrics BEGIN ${refresh('NEW.run_id')} END;
    CREATE TRIGGER epoch_metrics_outcome_update AFTER UPDATE ON epoch_metrics BEGIN ${refresh('NEW.run_id')} END;
    CREATE TRIGGER epoch_metrics_outcome_delete AFTER DELETE ON epoch_metrics BEGIN ${refresh('OLD.run_id')} END;`;
}

/**
 * A random RFC 4122 version-4 UUID in SQL (SQLite has no uuid()): 122 random bits, '4' for the version, one of
 * 8, 9, a, b for the variant. Lower case, as crypto.randomUUID() writes them.
 */
const UUID_V4_SQL = `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
  substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'runs, per-batch and per-epoch metrics, in-epoch evaluations, checkpoints',
    sql: `
      CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        status TEXT NOT NULL CHECK (status IN
          ('queued', 'running', 'completed', 'cancelled', 'diverged', 'failed', 'interrupted')),
        config_json TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        -- Copies of config fields the run lists filter and sort by.
        model TEXT NOT NULL,
        dataset TEXT NOT NULL,
        method TEXT NOT NULL,
        seed INTEGER NOT NULL,
        backend TEXT,
        error_code TEXT,
        error_message TEXT,
        error_details_json TEXT,
        tags_json TEXT NOT NULL DEFAULT '[]',
        notes TEXT NOT NULL DEFAULT '',
        -- The run this one was resumed or derived from.
        parent_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        -- The process that writes the run, so a later opener can tell a live run from an interrupted one.
        owner_pid INTEGER,
        owner_host TEXT,
        parameter_count INTEGER,
        train_size INTEGER,
        test_size INTEGER,
        batches_per_epoch INTEGER,
        epochs_completed INTEGER NOT NULL DEFAULT 0,
        steps_completed INTEGER NOT NULL DEFAULT 0,
        wall_seconds REAL NOT NULL DEFAULT 0
      );
      CREATE INDEX runs_by_status ON runs(status);
      CREATE INDEX runs_by_config_hash ON runs(config_hash);
      CREATE INDEX runs_by_parent ON runs(parent_id);

      CREATE TABLE batch_metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        batch INTEGER NOT NULL,
        loss REAL NOT NULL,
        accuracy REAL NOT NULL,
        nfe_forward INTEGER NOT NULL,
        nfe_backward INTEGER NOT NULL,
        seconds REAL NOT NULL,
        -- Seconds since the run started (training time, summed over resumed sessions): the wall-time axis.
        wall_seconds REAL NOT NULL,
        PRIMARY KEY (run_id, step)
      ) WITHOUT ROWID;

      CREATE TABLE epoch_metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        step INTEGER NOT NULL,
        -- NULL: not a finite number (SQLite stores NaN as NULL) — a model diverging at test time, say.
        loss REAL,
        accuracy REAL NOT NULL,
        test_loss REAL,
        test_accuracy REAL NOT NULL,
        nfe_forward_mean REAL NOT NULL,
        nfe_forward_max REAL NOT NULL,
        nfe_backward_mean REAL NOT NULL,
        nfe_backward_max REAL NOT NULL,
        steps_accepted INTEGER NOT NULL,
        steps_rejected INTEGER NOT NULL,
        test_nfe_forward_mean REAL NOT NULL,
        seconds REAL NOT NULL,
        wall_seconds REAL NOT NULL,
        peak_tensor_bytes INTEGER NOT NULL,
        rss_bytes INTEGER NOT NULL,
        PRIMARY KEY (run_id, epoch)
      ) WITHOUT ROWID;

      CREATE TABLE evaluations (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        test_loss REAL,
        test_accuracy REAL NOT NULL,
        evaluated INTEGER NOT NULL,
        nfe_forward REAL NOT NULL,
        PRIMARY KEY (run_id, step)
      ) WITHOUT ROWID;

      -- data: the engine's checkpoint bytes (format ODLCKPT1: config, weights and optimizer state); the store
      -- keeps them opaque.
      CREATE TABLE checkpoints (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        step INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (run_id, epoch)
      );
    `,
  },
  {
    version: 2,
    description: 'evaluation artefacts, step-size history, datasets, studies, dashboard summaries',
    sql: `
      CREATE TABLE datasets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        spec_json TEXT NOT NULL,
        source_json TEXT NOT NULL,
        -- SHA-256 of the images and labels as trained on (hex).
        content_hash TEXT NOT NULL,
        classes_json TEXT NOT NULL,
        train_count INTEGER NOT NULL,
        test_count INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (spec_json, content_hash)
      );
      ALTER TABLE runs ADD COLUMN dataset_id INTEGER REFERENCES datasets(id);

      -- A run's outcome for the run lists, kept by triggers on epoch_metrics (whoever writes it: recorder, resume,
      -- import): final = the last epoch; best = highest test accuracy and lowest finite test loss, earliest epoch
      -- on ties. Derived data, never exported.
      ALTER TABLE runs ADD COLUMN final_json TEXT;
      ALTER TABLE runs ADD COLUMN best_json TEXT;
      ${outcomeTriggers()}

      -- Per evaluated epoch: the test confusion matrix (rows = true class), per-class accuracy and the indices of
      -- misclassified test images (little-endian int32).
      CREATE TABLE confusion_matrices (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        matrix_json TEXT NOT NULL,
        per_class_accuracy_json TEXT NOT NULL,
        misclassified BLOB NOT NULL,
        PRIMARY KEY (run_id, epoch)
      ) WITHOUT ROWID;

      -- Adaptive solvers: the accepted step sizes of a batch's forward solve (little-endian float64).
      CREATE TABLE step_sizes (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        sizes BLOB NOT NULL,
        PRIMARY KEY (run_id, step)
      ) WITHOUT ROWID;

      CREATE TABLE studies (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        -- The grid that made the study's runs (axes and their values), as the study was defined.
        grid_json TEXT NOT NULL DEFAULT '{}',
        notes TEXT NOT NULL DEFAULT ''
      );
      CREATE TABLE study_runs (
        study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        PRIMARY KEY (study_id, run_id)
      ) WITHOUT ROWID;
      CREATE INDEX study_runs_by_run ON study_runs(run_id);

      -- Dashboard summaries of batch_metrics: buckets of 16·4^(level−1) steps (level 1 = steps 16b+1 … 16b+16),
      -- one row per (run, level, bucket) holding the steps of its first and last rows, its row count, and per
      -- metric the values at those steps and its minimum and maximum points (among equal values the earliest
      -- step), so a downsampled series reads a few thousand rows however long the run. One row for all metrics
      -- (not one per metric) keeps a recorder's flush cheap. Derived data: rebuilt from batch_metrics.
      CREATE TABLE metric_buckets (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        level INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        first_step INTEGER NOT NULL,
        last_step INTEGER NOT NULL,
        count INTEGER NOT NULL,
        loss_first REAL NOT NULL, loss_last REAL NOT NULL,
        loss_min_step INTEGER NOT NULL, loss_min REAL NOT NULL, loss_max_step INTEGER NOT NULL, loss_max REAL NOT NULL,
        accuracy_first REAL NOT NULL, accuracy_last REAL NOT NULL,
        accuracy_min_step INTEGER NOT NULL, accuracy_min REAL NOT NULL, accuracy_max_step INTEGER NOT NULL, accuracy_max REAL NOT NULL,
        nfe_forward_first REAL NOT NULL, nfe_forward_last REAL NOT NULL,
        nfe_forward_min_step INTEGER NOT NULL, nfe_forward_min REAL NOT NULL, nfe_forward_max_step INTEGER NOT NULL, nfe_forward_max REAL NOT NULL,
        nfe_backward_first REAL NOT NULL, nfe_backward_last REAL NOT NULL,
        nfe_backward_min_step INTEGER NOT NULL, nfe_backward_min REAL NOT NULL, nfe_backward_max_step INTEGER NOT NULL, nfe_backward_max REAL NOT NULL,
        seconds_first REAL NOT NULL, seconds_last REAL NOT NULL,
        seconds_min_step INTEGER NOT NULL, seconds_min REAL NOT NULL, seconds_max_step INTEGER NOT NULL, seconds_max REAL NOT NULL,
        wall_seconds_first REAL NOT NULL, wall_seconds_last REAL NOT NULL,
        wall_seconds_min_step INTEGER NOT NULL, wall_seconds_min REAL NOT NULL, wall_seconds_max_step INTEGER NOT NULL, wall_seconds_max REAL NOT NULL,
        PRIMARY KEY (run_id, level, bucket)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    description: 'cancel requests from other processes; the folder a run also writes its files to',
    sql: `
      -- A request to stop the run, written by whichever process asks (\`odelab runs cancel\`, another window);
      -- the process that owns the run polls it: 'after-batch' stops at the end of the current batch, 'now'
      -- kills the training process. Cleared when the run ends or is resumed.
      ALTER TABLE runs ADD COLUMN cancel_requested TEXT CHECK (cancel_requested IN ('after-batch', 'now'));
      -- The folder the run also keeps its files in (--out: events.jsonl, checkpoints/), as an absolute path, so
      -- a resumed run continues there. Machine-local: never exported.
      ALTER TABLE runs ADD COLUMN out_dir TEXT;
    `,
  },
  {
    version: 4,
    description: "the start token of a run's owner process, so a reused pid is not taken for it",
    sql: `
      -- Beside owner_pid: a token naming that one process (on Linux boot_id:starttime, see process-identity.ts),
      -- so a later process that got the same pid is not taken for the run's owner. NULL where none could be read
      -- (not Linux) and in rows written before it: those are judged by pid alone. Machine-local: never exported.
      ALTER TABLE runs ADD COLUMN owner_started TEXT;
    `,
  },
  {
    version: 5,
    description: "a run's UUID, which names it in every store it is exported to",
    sql: `
      -- Set when the run is created (createRun) and kept by every import, so a run coming back from another
      -- store is known as the same run (export.ts, matchExisting). Runs created before this migration get one
      -- now; a row inserted without one gets one from the trigger, so every run has one.
      ALTER TABLE runs ADD COLUMN uid TEXT;
      UPDATE runs SET uid = ${UUID_V4_SQL};
      CREATE UNIQUE INDEX runs_by_uid ON runs(uid);
      CREATE TRIGGER runs_uid_default AFTER INSERT ON runs WHEN NEW.uid IS NULL BEGIN
        UPDATE runs SET uid = ${UUID_V4_SQL} WHERE id = NEW.id;
      END;
    `,
  },
  {
    version: 6,
    description: 'the checkpoint file a run was started from (train --resume)',
    sql: `
      -- JSON {file, sha256, epoch, step}: the file as an absolute path on the machine that read it, the SHA-256 of
      -- its bytes (the run keeps those bytes as its checkpoint at that epoch), and where it stood. NULL for a run
      -- started from scratch. parent_id says the same only when one of this store's runs wrote the file.
      ALTER TABLE runs ADD COLUMN started_from_json TEXT;
    `,
  },
  {
    version: 7,
    description: "a run's resume point: a checkpoint inside an epoch",
    sql: `
      -- A checkpoint taken inside an epoch (on a cancel, or every --checkpoint-every minutes), so an interrupted run
      -- loses minutes, not its epoch: the engine's bytes (format version 3, which records the position). One per
      -- run, replaced by the next, and deleted once an epoch-end checkpoint at its step or later is saved. epoch is
      -- the epoch in progress (1-based) and batch its batches done, as batch_metrics numbers them; wall_seconds
      -- the run's wall clock there, which a resumed run continues.
      CREATE TABLE resume_points (
        run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        batch INTEGER NOT NULL,
        step INTEGER NOT NULL,
        wall_seconds REAL NOT NULL,
        bytes INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        data BLOB NOT NULL
      );
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
