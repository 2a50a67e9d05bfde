//! Builds what a run needs from its configuration: the inventory and the detectors.
//!
//! `replay`, `run` and `demo` all call [`RunSetup::build`], so they run the very same
//! detectors with the very same settings.

use crate::config::Config;
use crate::detect::fakebts::index::{CellIndex, Site};
use crate::detect::fakebts::FakeBtsDetector;
use crate::detect::spam::{Allowlist, SpamDetector};
use crate::detect::Detector;
use crate::inventory::csv_loader::LoadReport;
use crate::inventory::Inventory;
use std::path::Path;

/// The fake-BTS detector over the registered cells of the inventory.
fn fakebts_detector(config: &Config, inventory: &Inventory) -> Result<FakeBtsDetector, String> {
    let index = CellIndex::from_sites(inventory.iter_sorted().map(Site::from));
    FakeBtsDetector::with_index(config.fakebts.clone(), index).map_err(|e| e.to_string())
}

/// Detectors and reference data of one run.
pub struct RunSetup {
    pub detectors: Vec<Box<dyn Detector>>,
    pub(crate) inventory_report: Option<LoadReport>,
}

impl RunSetup {
    /// Load the inventory (`cells`, else `[inventory] csv`) and the allowlist, and
    /// build every detector; an invalid detector section is refused.
    pub fn build(config: &Config, cells: Option<&Path>) -> Result<RunSetup, String> {
        let (spam, fakebts, inventory_report) = Self::parts(config, cells)?;
        Ok(RunSetup {
            detectors: vec![Box::new(spam), Box::new(fakebts)],
            inventory_report,
        })
    }

    /// The spam detector and the fake-BTS detector apart (the service runs the
    /// latter's two stages in separate tasks when measurements are partitioned).
    pub(crate) fn build_split(
        config: &Config,
        cells: Option<&Path>,
    ) -> Result<(SpamDetector, FakeBtsDetector), String> {
        let (spam, fakebts, _) = Self::parts(config, cells)?;
        Ok((spam, fakebts))
    }

    fn parts(
        config: &Config,
        cells: Option<&Path>,
    ) -> Result<(SpamDetector, FakeBtsDetector, Option<LoadReport>), String> {
        let cells = cells.or(config.inventory.csv.as_deref());
        let (inventory, inventory_report) = match cells {
            Some(path) => {
                let (inv, report) =
                    Inventory::load_csv_with(path, &config.inventory).map_err(|e| e.to_string())?;
                if report.rejected_total > 0 {
                    tracing::warn!(path = %path.display(), rejected = report.rejected_total, "inventory rows rejected");
                }
                (inv, Some(report))
            }
            None => (Inventory::new(), None),
        };
        let allowlist = match &config.inventory.allowlist {
            Some(path) => Allowlist::load(path).map_err(|e| e.to_string())?,
            None => Allowlist::empty(),
        };
        let spam = SpamDetector::new(config.spam.clone(), allowlist).map_err(|e| e.to_string())?;
        Ok((
            spam,
            fakebts_detector(config, &inventory)?,
            inventory_report,
        ))
    }
}
