//! Certificate signing requests: parsed and their signature verified by x509-parser (proof
//! that the requester holds the private key), the key checked against the accepted kinds.
//! Only the public key is ever taken from a CSR; its subject and requested extensions are
//! ignored, so a CSR asking for CA:TRUE still gets a leaf.

use rcgen::SubjectPublicKeyInfo;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
    OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

/// RSA keys below this many bits are refused (NIST SP 800-131A), and above the upper bound
/// too: verifying a huge key's signature is work an anonymous caller should not cause.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// A CSR whose signature holds, with an accepted key.
pub struct CheckedCsr {
    pub key: SubjectPublicKeyInfo,
    /// `P-256`, `P-384`, `Ed25519` or `RSA-<bits>`.
    pub kind: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum CsrProblem {
    /// Not a PEM `CERTIFICATE REQUEST`, or not a well-formed one.
    Malformed,
    /// The signature does not verify with the CSR's own key.
    BadSignature,
    /// A key that is not P-256, P-384, Ed25519 or RSA of 2048 to 8192 bits.
    UnsupportedKey,
}

pub fn check(pem_text: &str) -> Result<CheckedCsr, CsrProblem> {
    let pem = pem::parse(pem_text).map_err(|_| CsrProblem::Malformed)?;
    if !matches!(pem.tag(), "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST") {
        return Err(CsrProblem::Malformed);
    }
    let (rest, csr) =
        X509CertificationRequest::from_der(pem.contents()).map_err(|_| CsrProblem::Malformed)?;
    if !rest.is_empty() {
        return Err(CsrProblem::Malformed);
    }
    let spki = &csr.certification_request_info.subject_pki;
    // The key first: a cheap refusal before any signature arithmetic.
    let kind = key_kind(spki)?;
    csr.verify_signature()
        .map_err(|_| CsrProblem::BadSignature)?;
    let key = SubjectPublicKeyInfo::from_der(spki.raw).map_err(|_| CsrProblem::UnsupportedKey)?;
    Ok(CheckedCsr { key, kind })
}

fn key_kind(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<String, CsrProblem> {
    let algorithm = &spki.algorithm.algorithm;
    if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        return match curve {
            Some(c) if c == OID_EC_P256 => Ok("P-256".to_owned()),
            Some(c) if c == OID_NIST_EC_P384 => Ok("P-384".to_owned()),
            _ => Err(CsrProblem::UnsupportedKey),
        };
    }
    if *algorithm == OID_SIG_ED25519 {
        return Ok("Ed25519".to_owned());
    }
    if *algorithm == OID_PKCS1_RSAENCRYPTION {
        return match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) if RSA_BITS.contains(&rsa.key_size()) => {
                Ok(format!("RSA-{}", rsa.key_size()))
            }
            _ => Err(CsrProblem::UnsupportedKey),
        };
    }
    Err(CsrProblem::UnsupportedKey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, IsCa, KeyPair, PKCS_ECDSA_P256_SHA256,
        PKCS_ECDSA_P384_SHA384, PKCS_ECDSA_P521_SHA512, PKCS_ED25519, SignatureAlgorithm,
    };

    fn csr_for(alg: &'static SignatureAlgorithm) -> String {
        let key = KeyPair::generate_for(alg).unwrap();
        CertificateParams::new(vec!["x.example".to_owned()])
            .unwrap()
            .serialize_request(&key)
            .unwrap()
            .pem()
            .unwrap()
    }

    #[test]
    fn accepted_curves_pass_and_others_do_not() {
        assert_eq!(
            check(&csr_for(&PKCS_ECDSA_P256_SHA256)).unwrap().kind,
            "P-256"
        );
        assert_eq!(
            check(&csr_for(&PKCS_ECDSA_P384_SHA384)).unwrap().kind,
            "P-384"
        );
        assert_eq!(check(&csr_for(&PKCS_ED25519)).unwrap().kind, "Ed25519");
        assert_eq!(
            check(&csr_for(&PKCS_ECDSA_P521_SHA512)).err(),
            Some(CsrProblem::UnsupportedKey)
        );
    }

    #[test]
    fn a_csr_asking_to_be_a_ca_is_only_a_key_to_us() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(vec![]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let pem = params.serialize_request(&key).unwrap().pem().unwrap();
        let checked = check(&pem).unwrap();
        assert_eq!(
            rcgen::PublicKeyData::der_bytes(&checked.key),
            key.public_key_raw()
        );
    }

    #[test]
    fn garbage_and_tampering_are_told_apart() {
        assert_eq!(check("hello").err(), Some(CsrProblem::Malformed));
        let pem = csr_for(&PKCS_ECDSA_P256_SHA256);
        let certificate = pem.replace("CERTIFICATE REQUEST", "CERTIFICATE");
        assert_eq!(check(&certificate).err(), Some(CsrProblem::Malformed));
        // Flip one bit inside the signed part (the subject), keeping the DER well-formed.
        let parsed = pem::parse(&pem).unwrap();
        let mut der = parsed.contents().to_vec();
        let at = der
            .windows(9)
            .position(|w| w == b"x.example")
            .unwrap_or(der.len() / 2);
        der[at] ^= 0x01;
        let tampered = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der));
        assert_eq!(check(&tampered).err(), Some(CsrProblem::BadSignature));
    }
}
