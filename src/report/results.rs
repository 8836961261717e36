//! Everything a report measured, handed to the writers.

use super::accuracy::AccuracyRow;
use super::crossover::CrossoverCell;
use super::fft_growth::GrowthRow;
use super::machine::Machine;
use super::throughput::{PeerRow, ThroughputRow};
use super::{Config, Plan};
use crate::mutants::RosterRow;
use std::time::Duration;

/// Everything measured.
pub(crate) struct Results<'a> {
    pub(crate) config: &'a Config,
    pub(crate) plan: &'a Plan,
    pub(crate) machine: &'a Machine,
    pub(crate) missing: &'a [&'a str],
    pub(crate) networks: Vec<String>,
    pub(crate) throughput: &'a [ThroughputRow],
    pub(crate) peers: &'a [PeerRow],
    pub(crate) accuracy: &'a [AccuracyRow],
    pub(crate) growth: &'a [GrowthRow],
    pub(crate) crossover: Option<&'a [CrossoverCell]>,
    pub(crate) roster: &'a [RosterRow],
    pub(crate) elapsed: Duration,
}
