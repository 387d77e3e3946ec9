use super::*;

const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/saml/sp-metadata.xml"
));

fn metadata() -> SpMetadata {
    SpMetadata::parse(FIXTURE.as_bytes()).unwrap()
}

#[test]
fn every_endpoint_and_key_is_read_with_keys_without_use_counting_for_both() {
    let metadata = metadata();

    assert_eq!(metadata.entity_id, "https://sp.test.example.dk/saml");
    assert_eq!(metadata.assertion_consumer_services.len(), 3);
    assert_eq!(metadata.single_logout_services.len(), 1);
    assert_eq!(metadata.signing_certificates.len(), 2);
    assert_eq!(metadata.encryption_certificates.len(), 1);
    assert!(metadata.authn_requests_signed);
}

#[test]
fn acs_is_chosen_by_exact_url_by_index_or_by_default() {
    let metadata = metadata();

    let by_url = metadata
        .select_acs(Some("https://sp.test.example.dk/acs"), None)
        .unwrap();
    let by_index = metadata.select_acs(None, Some(1)).unwrap();
    let by_default = metadata.select_acs(None, None).unwrap();

    assert_eq!(by_url.index, Some(1));
    assert_eq!(by_index.location, "https://sp.test.example.dk/acs");
    assert_eq!(
        by_default.location,
        "https://sp.test.example.dk/acs2?tenant=1"
    );
}

#[test]
fn acs_variants_that_are_not_registered_exactly_are_refused() {
    let metadata = metadata();
    let variants = [
        "https://evil.test/acs",
        "https://sp.test.example.dk@evil.test/acs",
        "https://sp.test.example.dk.evil.test/acs",
        "https://sp.test.example.dk/acs/../x",
        "https://sp.test.example.dk/acs?x=1",
        "https://sp.test.example.dk/acs2",
        "//evil.test/acs",
        "https://SP.test.example.dk/acs",
        "https://sp.test.example.dk:443/acs",
        "javascript:alert(1)",
        "https://sp.test.example.dk/acs-redirect",
        "https://sp.test.example.dk/ACS",
        "https://sp.test.example.dk/acs/",
    ];
    for url in variants {
        assert_eq!(
            metadata.select_acs(Some(url), None),
            Err(AcsError::Mismatch),
            "{url}"
        );
    }
    assert_eq!(
        metadata.select_acs(None, Some(0)),
        Err(AcsError::Mismatch),
        "Redirect ACS"
    );
    assert_eq!(metadata.select_acs(None, Some(9)), Err(AcsError::Mismatch));
    let both = metadata.select_acs(Some("https://sp.test.example.dk/acs"), Some(1));
    assert_eq!(both, Err(AcsError::Mismatch));
}

#[test]
fn incomplete_or_hostile_metadata_is_refused() {
    let without_post = FIXTURE.replace("bindings:HTTP-POST", "bindings:HTTP-Artifact");
    let without_keys = FIXTURE.replace("KeyDescriptor", "KeyDescriptorX");
    let with_doctype = format!("<!DOCTYPE x>{}", FIXTURE.split_once("?>").unwrap().1);
    let two_descriptors = FIXTURE.replace(
        "</md:EntityDescriptor>",
        "<md:SPSSODescriptor protocolSupportEnumeration=\"x\"/></md:EntityDescriptor>",
    );
    let bad_location = FIXTURE.replace("https://sp.test.example.dk/acs\"", "ftp://sp/acs\"");

    for (case, document) in [
        ("no POST ACS", without_post),
        ("no keys", without_keys),
        ("DOCTYPE", with_doctype),
        ("two descriptors", two_descriptors),
        ("ftp ACS", bad_location),
    ] {
        assert!(
            SpMetadata::parse(document.as_bytes()).is_err(),
            "{case} was accepted"
        );
    }
}
