//! From registered time to declared units and amounts.
//!
//! Staff register minutes (or dagdelen of four hours); a financier pays per
//! unit of the contract's eenheid (WJ756). The contract says how to get from
//! one to the other: measure time or count days, round each day or the
//! period's total, round to whole units or declare minutes, and round up,
//! down or to the nearest. These are pure functions on integers: a
//! declaration that is off by one cent or one minute is rejected (TR346,
//! TR418), so nothing here touches floating point.

use std::fmt;

/// Minutes in one dagdeel: WJ756 defines code 16 as "Dagdeel (4 uur)".
pub const MINUTES_PER_DAGDEEL: u32 = 240;

/// The largest GeleverdVolume (LDT_Volume) and bedrag (LDT_Bedrag) a
/// declaration can carry: eight digits.
pub const MAX_VOLUME: u64 = 99_999_999;

/// Eenheid, code list WJ756.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Eenheid {
    /// 01
    Minuut,
    /// 04
    Uur,
    /// 14
    Etmaal,
    /// 16: four hours.
    Dagdeel,
    /// 82
    StuksOutput,
    /// 83: GeleverdVolume is an amount in euro cents (IV042).
    Euro,
    /// 84
    StuksInspanning,
}

impl Eenheid {
    pub const ALL: [Eenheid; 7] = [
        Eenheid::Minuut,
        Eenheid::Uur,
        Eenheid::Etmaal,
        Eenheid::Dagdeel,
        Eenheid::StuksOutput,
        Eenheid::Euro,
        Eenheid::StuksInspanning,
    ];

    /// The WJ756 code as it appears in messages.
    pub fn code(self) -> &'static str {
        match self {
            Eenheid::Minuut => "01",
            Eenheid::Uur => "04",
            Eenheid::Etmaal => "14",
            Eenheid::Dagdeel => "16",
            Eenheid::StuksOutput => "82",
            Eenheid::Euro => "83",
            Eenheid::StuksInspanning => "84",
        }
    }

    pub fn from_code(code: &str) -> Option<Eenheid> {
        Eenheid::ALL.into_iter().find(|e| e.code() == code)
    }

    /// The unit's name as staff read it (Dutch, plural).
    pub fn label_nl(self) -> &'static str {
        match self {
            Eenheid::Minuut => "minuten",
            Eenheid::Uur => "uren",
            Eenheid::Etmaal => "etmalen",
            Eenheid::Dagdeel => "dagdelen",
            Eenheid::StuksOutput => "stuks (output)",
            Eenheid::Euro => "euro",
            Eenheid::StuksInspanning => "stuks (inspanning)",
        }
    }

    /// A volume in this unit as staff say it, in the right number: "1
    /// dagdeel", "37 dagdelen", "6 uur", "1 minuut", "€ 12" stays "12 euro".
    pub fn count_nl(self, n: i64) -> String {
        let one = n == 1;
        let noun = match self {
            Eenheid::Minuut if one => "minuut",
            Eenheid::Uur => "uur",
            Eenheid::Etmaal if one => "etmaal",
            Eenheid::Dagdeel if one => "dagdeel",
            Eenheid::StuksOutput if one => "stuk (output)",
            Eenheid::StuksInspanning if one => "stuk (inspanning)",
            other => other.label_nl(),
        };
        format!("{n} {noun}")
    }

    /// Length of one unit in minutes, for the units that measure time.
    pub fn minutes(self) -> Option<u32> {
        match self {
            Eenheid::Minuut => Some(1),
            Eenheid::Uur => Some(60),
            Eenheid::Dagdeel => Some(MINUTES_PER_DAGDEEL),
            _ => None,
        }
    }
}

impl fmt::Display for Eenheid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Direction of rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    Up,
    Down,
    /// To the nearest; exactly half way rounds up (the usual commercial rule,
    /// and the one TR346 uses for cents).
    Nearest,
}

/// Where rounding happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundPer {
    /// Every day is rounded on its own and the rounded days are added up.
    Day,
    /// The exact total of the period is rounded once.
    Period,
}

/// What the result is rounded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundTo {
    /// Whole units of the eenheid.
    Unit,
    /// Minutes, in multiples of `step` minutes; the declaration is then in
    /// eenheid 01 (TR341 allows minutes on an allocation in hours).
    Minutes { step: u32 },
}

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Registered time, converted into the eenheid.
    Time,
    /// Every day with delivery counts one unit (etmaal, stuks, a day fee).
    Day,
    /// One unit per declaration period with any delivery (a month fee).
    Period,
}

/// A contract's conversion rule for one product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    /// The product's eenheid: what the tariff is per.
    pub eenheid: Eenheid,
    pub measure: Measure,
    /// `per`, `to` and `rounding` apply to [`Measure::Time`] only; counting
    /// measures have nothing to round.
    pub per: RoundPer,
    pub to: RoundTo,
    pub rounding: Rounding,
}

/// A conversion rule that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    #[error("eenheid {0} is a time unit and is measured from registered time (measure = \"time\")")]
    TimeUnitCounted(Eenheid),
    #[error("eenheid {0} is not a time unit; it counts days or periods, not time")]
    CountUnitTimed(Eenheid),
    #[error("eenheid {0} cannot be declared in minutes; only minuut (01) and uur (04) can (TR341)")]
    MinutesNotAllowed(Eenheid),
    #[error("step_minutes must be between 1 and 60, not {0}")]
    BadStep(u32),
}

impl Conversion {
    /// Checks that the rule makes sense for its eenheid. The mapping schema
    /// checks the same for files; this guards rules built in code.
    pub fn check(&self) -> Result<(), ConversionError> {
        let timed = self.eenheid.minutes().is_some();
        match (self.measure, timed) {
            (Measure::Time, false) => return Err(ConversionError::CountUnitTimed(self.eenheid)),
            (Measure::Day | Measure::Period, true) => {
                return Err(ConversionError::TimeUnitCounted(self.eenheid));
            }
            _ => {}
        }
        if let RoundTo::Minutes { step } = self.to {
            if !matches!(self.eenheid, Eenheid::Minuut | Eenheid::Uur) {
                return Err(ConversionError::MinutesNotAllowed(self.eenheid));
            }
            if !(1..=60).contains(&step) {
                return Err(ConversionError::BadStep(step));
            }
        }
        Ok(())
    }

    /// The eenheid that goes into the declaration: minuut when the contract
    /// declares minutes, otherwise the product's eenheid.
    pub fn declared_eenheid(&self) -> Eenheid {
        match self.to {
            RoundTo::Minutes { .. } => Eenheid::Minuut,
            RoundTo::Unit => self.eenheid,
        }
    }

    /// Rounds an exact number of minutes to the declared unit (whole units,
    /// or minutes in steps). Only meaningful for [`Measure::Time`].
    pub fn round_minutes(&self, minutes: u64) -> u64 {
        match self.to {
            RoundTo::Unit => {
                let size = u64::from(self.eenheid.minutes().unwrap_or(1));
                round_div(minutes, size, self.rounding)
            }
            RoundTo::Minutes { step } => {
                let step = u64::from(step.max(1));
                round_div(minutes, step, self.rounding) * step
            }
        }
    }

    /// What one day on its own converts to. With per-period rounding a day
    /// has no rounded value of its own; this is then what the day would give
    /// if it were the whole period.
    pub fn day_units(&self, day: DayShare) -> u64 {
        self.period_units(std::slice::from_ref(&day))
    }

    /// The number of declared units for all the days one allocation received
    /// in one period (a product period): in the declared eenheid for time
    /// units, a count of days or periods for the counting units.
    pub fn period_units(&self, days: &[DayShare]) -> u64 {
        match self.measure {
            Measure::Time => match self.per {
                RoundPer::Day => days
                    .iter()
                    .map(|d| self.round_minutes(u64::from(d.minutes)))
                    .sum(),
                RoundPer::Period => {
                    self.round_minutes(days.iter().map(|d| u64::from(d.minutes)).sum())
                }
            },
            Measure::Day => days.iter().filter(|d| d.delivered()).count() as u64,
            Measure::Period => u64::from(days.iter().any(|d| d.delivered())),
        }
    }
}

/// What one allocation received on one day, after the day was split over
/// the allocations (see [`super::priority::split_day`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DayShare {
    /// Registered minutes that count for this allocation (a dagdeel is 240).
    pub minutes: u32,
    /// The day counts as a delivered day for this allocation even without
    /// minutes (attendance registered without a time, for counting units).
    pub counted: bool,
}

impl DayShare {
    pub fn minutes(minutes: u32) -> DayShare {
        DayShare {
            minutes,
            counted: minutes > 0,
        }
    }

    pub fn dagdelen(dagdelen: u32) -> DayShare {
        DayShare::minutes(dagdelen.saturating_mul(MINUTES_PER_DAGDEEL))
    }

    /// A day counted without registered time.
    pub fn present() -> DayShare {
        DayShare {
            minutes: 0,
            counted: true,
        }
    }

    pub fn delivered(&self) -> bool {
        self.counted || self.minutes > 0
    }
}

/// `n / d` rounded as asked, exactly. `d` must not be zero.
pub fn round_div(n: u64, d: u64, rounding: Rounding) -> u64 {
    assert!(d > 0, "round_div by zero");
    let q = n / d;
    let r = n % d;
    if r == 0 {
        return q;
    }
    match rounding {
        Rounding::Down => q,
        Rounding::Up => q + 1,
        // r >= d - r  <=>  r / d >= 1/2, without overflow.
        Rounding::Nearest => {
            if r >= d - r {
                q + 1
            } else {
                q
            }
        }
    }
}

/// The money part of one prestatie: GeleverdVolume, Eenheid, ProductTarief
/// and IngediendBedrag, all in the form WMO323/JW323 carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declared {
    pub volume: u64,
    pub eenheid: Eenheid,
    /// Per unit of `eenheid` in cents; absent for euro's (CD087).
    pub product_tarief: Option<u64>,
    pub bedrag: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("{what} {value} does not fit in a declaration (at most 99999999)")]
    TooLarge { what: &'static str, value: u128 },
}

/// Prices `units` (from [`Conversion::period_units`]) with `price_cents`,
/// the contract tariff per unit of the product's eenheid.
///
/// - Euro's (83): the units are counted days or periods and the price is the
///   fixed amount for each; GeleverdVolume is the amount in cents, no
///   ProductTarief, and IngediendBedrag equals GeleverdVolume (IV042, CD087,
///   CS339).
/// - Minutes declared on an hourly tariff: ProductTarief is the hourly tariff
///   divided by 60, and IngediendBedrag is hourly tariff times minutes
///   divided by 60, each rounded to the nearest cent (TR346).
/// - Otherwise IngediendBedrag is GeleverdVolume times ProductTarief (TR346).
pub fn declare(
    conversion: &Conversion,
    units: u64,
    price_cents: u64,
) -> Result<Declared, AmountError> {
    let eenheid = conversion.declared_eenheid();
    let check = |what: &'static str, value: u128| -> Result<u64, AmountError> {
        if value > u128::from(MAX_VOLUME) {
            Err(AmountError::TooLarge { what, value })
        } else {
            Ok(value as u64)
        }
    };
    let product = u128::from(units) * u128::from(price_cents);
    if eenheid == Eenheid::Euro {
        let volume = check("GeleverdVolume", product)?;
        return Ok(Declared {
            volume,
            eenheid,
            product_tarief: None,
            bedrag: volume,
        });
    }
    let volume = check("GeleverdVolume", u128::from(units))?;
    if eenheid == Eenheid::Minuut && conversion.eenheid == Eenheid::Uur {
        let tarief = round_div(price_cents, 60, Rounding::Nearest);
        let bedrag = round_div_u128(product, 60);
        return Ok(Declared {
            volume,
            eenheid,
            product_tarief: Some(check("ProductTarief", u128::from(tarief))?),
            bedrag: check("IngediendBedrag", bedrag)?,
        });
    }
    Ok(Declared {
        volume,
        eenheid,
        product_tarief: Some(check("ProductTarief", u128::from(price_cents))?),
        bedrag: check("IngediendBedrag", product)?,
    })
}

fn round_div_u128(n: u128, d: u128) -> u128 {
    let (q, r) = (n / d, n % d);
    if r != 0 && r >= d - r { q + 1 } else { q }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(eenheid: Eenheid, per: RoundPer, to: RoundTo, rounding: Rounding) -> Conversion {
        let c = Conversion {
            eenheid,
            measure: Measure::Time,
            per,
            to,
            rounding,
        };
        c.check().expect("valid conversion");
        c
    }

    fn counting(eenheid: Eenheid, measure: Measure) -> Conversion {
        let c = Conversion {
            eenheid,
            measure,
            per: RoundPer::Day,
            to: RoundTo::Unit,
            rounding: Rounding::Down,
        };
        c.check().expect("valid conversion");
        c
    }

    fn mins(list: &[u32]) -> Vec<DayShare> {
        list.iter().map(|&m| DayShare::minutes(m)).collect()
    }

    #[test]
    fn eenheid_codes_round_trip() {
        for e in Eenheid::ALL {
            assert_eq!(Eenheid::from_code(e.code()), Some(e));
        }
        assert_eq!(Eenheid::from_code("02"), None);
        assert_eq!(Eenheid::Dagdeel.minutes(), Some(240));
        assert_eq!(Eenheid::Etmaal.minutes(), None);
    }

    #[test]
    fn round_div_boundaries() {
        use Rounding::*;
        for r in [Up, Down, Nearest] {
            assert_eq!(round_div(0, 60, r), 0, "{r:?}");
            assert_eq!(round_div(120, 60, r), 2, "{r:?}");
        }
        assert_eq!(round_div(1, 60, Up), 1);
        assert_eq!(round_div(59, 60, Down), 0);
        assert_eq!(round_div(29, 60, Nearest), 0);
        assert_eq!(round_div(30, 60, Nearest), 1, "half way rounds up");
        assert_eq!(round_div(89, 60, Nearest), 1);
        assert_eq!(round_div(90, 60, Nearest), 2);
        // Odd divisor: 119/240 < 1/2, 120/240 = 1/2.
        assert_eq!(round_div(119, 240, Nearest), 0);
        assert_eq!(round_div(120, 240, Nearest), 1);
        assert_eq!(round_div(2, 3, Nearest), 1);
        assert_eq!(round_div(1, 3, Nearest), 0);
        assert_eq!(round_div(u64::MAX, 2, Nearest), u64::MAX / 2 + 1);
    }

    #[test]
    fn zero_minutes_is_zero_units_in_every_rule() {
        for eenheid in [Eenheid::Minuut, Eenheid::Uur, Eenheid::Dagdeel] {
            for per in [RoundPer::Day, RoundPer::Period] {
                for rounding in [Rounding::Up, Rounding::Down, Rounding::Nearest] {
                    let mut tos = vec![RoundTo::Unit];
                    if eenheid != Eenheid::Dagdeel {
                        tos.push(RoundTo::Minutes { step: 15 });
                    }
                    for to in tos {
                        let c = conv(eenheid, per, to, rounding);
                        assert_eq!(c.period_units(&mins(&[0, 0])), 0, "{c:?}");
                        assert_eq!(c.period_units(&[]), 0, "{c:?}");
                        assert_eq!(c.day_units(DayShare::minutes(0)), 0, "{c:?}");
                    }
                }
            }
        }
        for measure in [Measure::Day, Measure::Period] {
            let c = counting(Eenheid::Etmaal, measure);
            assert_eq!(c.period_units(&mins(&[0, 0])), 0);
        }
    }

    #[test]
    fn minuut_is_exact_or_in_steps() {
        let exact = conv(Eenheid::Minuut, RoundPer::Day, RoundTo::Unit, Rounding::Up);
        assert_eq!(exact.period_units(&mins(&[47, 13])), 60);
        assert_eq!(exact.declared_eenheid(), Eenheid::Minuut);

        let step5 = |r| {
            conv(
                Eenheid::Minuut,
                RoundPer::Day,
                RoundTo::Minutes { step: 5 },
                r,
            )
        };
        assert_eq!(step5(Rounding::Up).day_units(DayShare::minutes(41)), 45);
        assert_eq!(step5(Rounding::Up).day_units(DayShare::minutes(40)), 40);
        assert_eq!(step5(Rounding::Down).day_units(DayShare::minutes(44)), 40);
        assert_eq!(
            step5(Rounding::Nearest).day_units(DayShare::minutes(42)),
            40
        );
        assert_eq!(
            step5(Rounding::Nearest).day_units(DayShare::minutes(43)),
            45
        );
    }

    #[test]
    fn uur_to_whole_hours() {
        let c = |r| conv(Eenheid::Uur, RoundPer::Day, RoundTo::Unit, r);
        assert_eq!(c(Rounding::Up).day_units(DayShare::minutes(1)), 1);
        assert_eq!(c(Rounding::Up).day_units(DayShare::minutes(60)), 1);
        assert_eq!(c(Rounding::Up).day_units(DayShare::minutes(61)), 2);
        assert_eq!(c(Rounding::Down).day_units(DayShare::minutes(119)), 1);
        assert_eq!(c(Rounding::Nearest).day_units(DayShare::minutes(89)), 1);
        assert_eq!(c(Rounding::Nearest).day_units(DayShare::minutes(90)), 2);
        assert_eq!(c(Rounding::Nearest).declared_eenheid(), Eenheid::Uur);
    }

    #[test]
    fn uur_declared_in_minutes() {
        let c = conv(
            Eenheid::Uur,
            RoundPer::Period,
            RoundTo::Minutes { step: 1 },
            Rounding::Nearest,
        );
        assert_eq!(c.declared_eenheid(), Eenheid::Minuut);
        assert_eq!(c.period_units(&mins(&[50, 95, 0, 17])), 162);
        let quarter = conv(
            Eenheid::Uur,
            RoundPer::Day,
            RoundTo::Minutes { step: 15 },
            Rounding::Up,
        );
        // 50 -> 60, 95 -> 105, 17 -> 30.
        assert_eq!(quarter.period_units(&mins(&[50, 95, 17])), 195);
    }

    #[test]
    fn dagdeel_from_minutes_and_from_dagdelen() {
        let c = |per, r| conv(Eenheid::Dagdeel, per, RoundTo::Unit, r);
        let nearest = c(RoundPer::Day, Rounding::Nearest);
        assert_eq!(
            nearest.day_units(DayShare::dagdelen(2)),
            2,
            "dagdelen stay exact"
        );
        assert_eq!(nearest.day_units(DayShare::minutes(119)), 0);
        assert_eq!(nearest.day_units(DayShare::minutes(120)), 1);
        assert_eq!(nearest.day_units(DayShare::minutes(359)), 1);
        assert_eq!(nearest.day_units(DayShare::minutes(360)), 2);
        assert_eq!(
            c(RoundPer::Day, Rounding::Up).day_units(DayShare::minutes(241)),
            2
        );
        assert_eq!(
            c(RoundPer::Day, Rounding::Down).day_units(DayShare::minutes(479)),
            1
        );
        for r in [Rounding::Up, Rounding::Down, Rounding::Nearest] {
            assert_eq!(c(RoundPer::Period, r).day_units(DayShare::dagdelen(3)), 3);
        }
    }

    #[test]
    fn per_day_and_per_period_rounding_give_different_totals() {
        // Three days of 50 minutes on an hourly product.
        let days = mins(&[50, 50, 50]);
        let c = |per, r| conv(Eenheid::Uur, per, RoundTo::Unit, r);
        assert_eq!(c(RoundPer::Day, Rounding::Down).period_units(&days), 0);
        assert_eq!(c(RoundPer::Period, Rounding::Down).period_units(&days), 2);
        assert_eq!(c(RoundPer::Day, Rounding::Up).period_units(&days), 3);
        assert_eq!(c(RoundPer::Period, Rounding::Up).period_units(&days), 3);
        // Nearest: 3 x 20 min -> 0 per day, 60 min -> 1 per period.
        let short = mins(&[20, 20, 20]);
        assert_eq!(c(RoundPer::Day, Rounding::Nearest).period_units(&short), 0);
        assert_eq!(
            c(RoundPer::Period, Rounding::Nearest).period_units(&short),
            1
        );
        // Dagdelen: 5 days of 3 hours, nearest: 1 each per day, 900/240 = 3.75 -> 4.
        let d = |per| conv(Eenheid::Dagdeel, per, RoundTo::Unit, Rounding::Nearest);
        let five = mins(&[180; 5]);
        assert_eq!(d(RoundPer::Day).period_units(&five), 5);
        assert_eq!(d(RoundPer::Period).period_units(&five), 4);
        // Minute steps: 4 x 7 minutes in quarters, up: 4 x 15 vs 30.
        let q = |per| {
            conv(
                Eenheid::Uur,
                per,
                RoundTo::Minutes { step: 15 },
                Rounding::Up,
            )
        };
        assert_eq!(q(RoundPer::Day).period_units(&mins(&[7; 4])), 60);
        assert_eq!(q(RoundPer::Period).period_units(&mins(&[7; 4])), 30);
    }

    #[test]
    fn counting_units() {
        let days = vec![
            DayShare::minutes(300),
            DayShare::minutes(0),
            DayShare::present(),
            DayShare::dagdelen(1),
        ];
        for e in [
            Eenheid::Etmaal,
            Eenheid::StuksOutput,
            Eenheid::StuksInspanning,
            Eenheid::Euro,
        ] {
            assert_eq!(counting(e, Measure::Day).period_units(&days), 3, "{e}");
            assert_eq!(counting(e, Measure::Period).period_units(&days), 1, "{e}");
            assert_eq!(counting(e, Measure::Day).declared_eenheid(), e);
        }
        let none = [DayShare::minutes(0)];
        assert_eq!(
            counting(Eenheid::StuksOutput, Measure::Period).period_units(&none),
            0
        );
        assert_eq!(
            counting(Eenheid::Etmaal, Measure::Day).day_units(DayShare::present()),
            1
        );
    }

    #[test]
    fn invalid_conversions_are_refused() {
        let base = Conversion {
            eenheid: Eenheid::Dagdeel,
            measure: Measure::Time,
            per: RoundPer::Day,
            to: RoundTo::Minutes { step: 1 },
            rounding: Rounding::Up,
        };
        assert_eq!(
            base.check(),
            Err(ConversionError::MinutesNotAllowed(Eenheid::Dagdeel))
        );
        let c = Conversion {
            eenheid: Eenheid::Etmaal,
            to: RoundTo::Unit,
            ..base
        };
        assert_eq!(
            c.check(),
            Err(ConversionError::CountUnitTimed(Eenheid::Etmaal))
        );
        let c = Conversion {
            eenheid: Eenheid::Uur,
            measure: Measure::Day,
            to: RoundTo::Unit,
            ..base
        };
        assert_eq!(
            c.check(),
            Err(ConversionError::TimeUnitCounted(Eenheid::Uur))
        );
        let c = Conversion {
            eenheid: Eenheid::Uur,
            to: RoundTo::Minutes { step: 0 },
            ..base
        };
        assert_eq!(c.check(), Err(ConversionError::BadStep(0)));
    }

    #[test]
    fn amounts() {
        let uur = conv(
            Eenheid::Uur,
            RoundPer::Period,
            RoundTo::Unit,
            Rounding::Nearest,
        );
        assert_eq!(
            declare(&uur, 12, 6_512),
            Ok(Declared {
                volume: 12,
                eenheid: Eenheid::Uur,
                product_tarief: Some(6_512),
                bedrag: 78_144,
            })
        );
        assert_eq!(declare(&uur, 0, 6_512).map(|d| d.bedrag), Ok(0));

        // TR346: hourly tariff declared in minutes. 61.45 euro/h x 50 min
        // = 51.2083 euro -> 5121 cents; per-minute tariff 102.4166 -> 102.
        let minutes = conv(
            Eenheid::Uur,
            RoundPer::Period,
            RoundTo::Minutes { step: 1 },
            Rounding::Nearest,
        );
        assert_eq!(
            declare(&minutes, 50, 6_145),
            Ok(Declared {
                volume: 50,
                eenheid: Eenheid::Minuut,
                product_tarief: Some(102),
                bedrag: 5_121,
            })
        );
        // Half a cent rounds up: 6_003 x 10 / 60 = 1000.5.
        assert_eq!(declare(&minutes, 10, 6_003).map(|d| d.bedrag), Ok(1_001));
        // Divisible tariff: exact.
        assert_eq!(declare(&minutes, 90, 6_000).map(|d| d.bedrag), Ok(9_000));

        // Euro's: volume is the amount, no ProductTarief.
        let euro = counting(Eenheid::Euro, Measure::Period);
        assert_eq!(
            declare(&euro, 1, 125_000),
            Ok(Declared {
                volume: 125_000,
                eenheid: Eenheid::Euro,
                product_tarief: None,
                bedrag: 125_000,
            })
        );
        let euro_day = counting(Eenheid::Euro, Measure::Day);
        assert_eq!(declare(&euro_day, 3, 4_250).map(|d| d.volume), Ok(12_750));
    }

    #[test]
    fn amounts_that_do_not_fit_are_refused() {
        let uur = conv(
            Eenheid::Uur,
            RoundPer::Period,
            RoundTo::Unit,
            Rounding::Nearest,
        );
        assert!(matches!(
            declare(&uur, 100_000, 99_999_999),
            Err(AmountError::TooLarge {
                what: "IngediendBedrag",
                ..
            })
        ));
        assert!(matches!(
            declare(&uur, 100_000_000, 1),
            Err(AmountError::TooLarge {
                what: "GeleverdVolume",
                ..
            })
        ));
        assert!(declare(&uur, u64::MAX, u64::MAX).is_err());
        assert_eq!(
            declare(&uur, 99_999_999, 1).map(|d| d.bedrag),
            Ok(99_999_999)
        );
    }
}
