//! A valid WMO323 declaration of any size, for the memory benchmark and
//! the size-limit tests: one client and prestatie after another, from
//! provider 73730112 to municipality 0200.

/// A valid BSN (elfproef) for every `n`, skipping the bases without one.
pub fn bsn(n: usize) -> String {
    // Sixteen bases per n: a base fails one time in eleven, so the search
    // never reaches the next n's.
    let mut base = 10_000_000 + n * 16;
    loop {
        let digits: Vec<u32> = format!("{base:08}")
            .bytes()
            .map(|b| u32::from(b - b'0'))
            .collect();
        let sum: u32 = digits.iter().zip((2..=9).rev()).map(|(d, w)| d * w).sum();
        let check = sum % 11;
        // The weighted sum minus the check digit must be a non-zero
        // multiple of 11.
        if check < 10 && sum != check {
            return format!("{base:08}{check}");
        }
        base += 1;
    }
}

/// A WMO323 from provider 73730112 to municipality 0200 of about `bytes`,
/// one client and prestatie after another.
pub fn declaration(ident: &str, bytes: usize) -> String {
    const CLIENT: usize = 1_050;
    let n = (bytes / CLIENT).max(1);
    let mut xml = String::with_capacity(bytes + 4096);
    xml.push_str(&format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<wmo323:Bericht xmlns:wmo323="http://www.istandaarden.nl/iwmo/3_2/wmo323/schema" xmlns:iwmo="http://www.istandaarden.nl/iwmo/3_2/basisschema/schema">
  <wmo323:Header>
    <wmo323:BerichtCode>484</wmo323:BerichtCode>
    <wmo323:BerichtVersie>3</wmo323:BerichtVersie>
    <wmo323:BerichtSubversie>2</wmo323:BerichtSubversie>
    <wmo323:Afzender>73730112</wmo323:Afzender>
    <wmo323:Ontvanger>0200</wmo323:Ontvanger>
    <wmo323:BerichtIdentificatie>
      <iwmo:Identificatie>{ident}</iwmo:Identificatie>
      <iwmo:Dagtekening>2026-05-06</iwmo:Dagtekening>
    </wmo323:BerichtIdentificatie>
    <wmo323:XsdVersie>
      <iwmo:BasisschemaXsdVersie>1.0.0</iwmo:BasisschemaXsdVersie>
      <iwmo:BerichtXsdVersie>1.0.0</iwmo:BerichtXsdVersie>
    </wmo323:XsdVersie>
  </wmo323:Header>
  <wmo323:Declaratie>
    <wmo323:DeclaratieNummer>{ident}</wmo323:DeclaratieNummer>
    <wmo323:DeclaratiePeriode>
      <iwmo:Begindatum>2026-04-01</iwmo:Begindatum>
      <iwmo:Einddatum>2026-04-30</iwmo:Einddatum>
    </wmo323:DeclaratiePeriode>
    <wmo323:DeclaratieDagtekening>2026-05-06</wmo323:DeclaratieDagtekening>
    <wmo323:TotaalIngediendBedrag>
      <iwmo:TotaalBedrag>{}</iwmo:TotaalBedrag>
      <iwmo:DebetCredit>D</iwmo:DebetCredit>
    </wmo323:TotaalIngediendBedrag>
    <wmo323:Clienten>
"#,
        n * 63_200
    ));
    for i in 0..n {
        xml.push_str(&format!(
            r#"      <wmo323:Client>
        <wmo323:Bsn>{}</wmo323:Bsn>
        <wmo323:Prestaties>
          <wmo323:Prestatie>
            <wmo323:ProductReferentie>
              <iwmo:ReferentieNummer>P{i:08}</iwmo:ReferentieNummer>
            </wmo323:ProductReferentie>
            <wmo323:ToewijzingNummer>{:08}</wmo323:ToewijzingNummer>
            <wmo323:ProductCategorie>01</wmo323:ProductCategorie>
            <wmo323:ProductCode>01A02</wmo323:ProductCode>
            <wmo323:ProductPeriode>
              <iwmo:Begindatum>2026-04-01</iwmo:Begindatum>
              <iwmo:Einddatum>2026-04-30</iwmo:Einddatum>
            </wmo323:ProductPeriode>
            <wmo323:GeleverdVolume>16</wmo323:GeleverdVolume>
            <wmo323:Eenheid>04</wmo323:Eenheid>
            <wmo323:ProductTarief>3950</wmo323:ProductTarief>
            <wmo323:IngediendBedrag>
              <iwmo:Bedrag>63200</iwmo:Bedrag>
              <iwmo:DebetCredit>D</iwmo:DebetCredit>
            </wmo323:IngediendBedrag>
          </wmo323:Prestatie>
        </wmo323:Prestaties>
      </wmo323:Client>
"#,
            bsn(i),
            300_000 + i
        ));
    }
    xml.push_str("    </wmo323:Clienten>\n  </wmo323:Declaratie>\n</wmo323:Bericht>\n");
    xml
}
