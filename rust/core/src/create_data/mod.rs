//! create-data: text (one sentence per line, a blank line between documents) -> masked-LM +
//! sentence-order instances in sharded TFRecords (docs/create-data.md). Plan the shards, then
//! build each one; documents are read by [`crate::corpus`].

pub mod example;
pub mod instances;
pub mod masking;
pub mod options;
pub mod plan;
pub mod plan_stream;
pub mod resume;
pub mod rng;
pub mod run;
pub mod shard;

pub use options::{CreateDataOptions, RunConfig};
pub use plan::{plan, PlannedShard, ShardPlan, Split};
pub use plan_stream::PlanStream;
pub use run::{build_planned_shard, configure, finish_shards, prepare_output, reads_once, run, run_with_model, run_with_tokenizer, CreateDataSummary, Model, RunSummary, ShardResult};
pub use shard::LineEncoder;
