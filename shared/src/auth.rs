//! HS256 JWT verification (and minting, for tests and the local stack's dev identity endpoint).
//!
//! Tokens carry `sub`, `name`, `role` and `exp`, all required. Only HS256 is accepted: `alg: none`, other
//! algorithms, forged signatures and expired tokens are refused.

use crate::domain::{validate_text, Principal, Role, UserId, MAX_NAME_LEN};
use jsonwebtoken::{
    decode, encode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The smallest accepted HS256 secret (bytes): shorter keys are brute-forceable.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub name: String,
    pub role: Role,
    /// Expiry, epoch seconds.
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    MissingToken,
    #[error("token expired")]
    Expired,
    #[error("invalid token")]
    Invalid,
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::Expired => "token_expired",
            AuthError::Invalid => "invalid_token",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("JWT secret must be at least {MIN_SECRET_LEN} bytes")]
pub struct WeakSecret;

/// Verifies tokens; built once per cold start.
#[derive(Clone)]
pub struct TokenVerifier {
    /// `None` in functions deployed without the secret: every token is then refused.
    key: Option<DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenVerifier(HS256)")
    }
}

impl TokenVerifier {
    pub fn new(secret: &SecretString) -> Result<Self, WeakSecret> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < MIN_SECRET_LEN {
            return Err(WeakSecret);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        validation.validate_exp = true;
        Ok(Self {
            key: Some(DecodingKey::from_secret(bytes)),
            validation,
        })
    }

    /// From an optional secret: without one, [`TokenVerifier::verify`] refuses every token.
    pub fn from_config(secret: Option<&SecretString>) -> Result<Self, WeakSecret> {
        match secret {
            Some(s) => Self::new(s),
            None => Ok(Self {
                key: None,
                validation: Validation::new(Algorithm::HS256),
            }),
        }
    }

    pub fn verify(&self, token: Option<&str>) -> Result<Principal, AuthError> {
        let token = token.ok_or(AuthError::MissingToken)?;
        let Some(key) = &self.key else {
            tracing::error!("a token was presented to a function deployed without JWT_SECRET");
            return Err(AuthError::Invalid);
        };
        let data = decode::<Claims>(token, key, &self.validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            _ => AuthError::Invalid,
        })?;
        let claims = data.claims;
        let user_id = UserId::parse(&claims.sub).map_err(|_| AuthError::Invalid)?;
        let name = validate_text("name", &claims.name, MAX_NAME_LEN, true)
            .map_err(|_| AuthError::Invalid)?;
        Ok(Principal {
            user_id,
            name,
            role: claims.role,
        })
    }
}

/// Mints HS256 tokens. Used by tests and by the local stack's dev-only `/dev/token` endpoint.
#[derive(Clone)]
pub struct TokenIssuer {
    key: EncodingKey,
}

impl TokenIssuer {
    pub fn new(secret: &SecretString) -> Result<Self, WeakSecret> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < MIN_SECRET_LEN {
            return Err(WeakSecret);
        }
        Ok(Self {
            key: EncodingKey::from_secret(bytes),
        })
    }

    pub fn mint(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        encode(&Header::new(Algorithm::HS256), claims, &self.key)
    }

    /// A token valid for `ttl_secs` from `now_secs`.
    pub fn mint_for(
        &self,
        sub: &str,
        name: &str,
        role: Role,
        now_secs: u64,
        ttl_secs: u64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.mint(&Claims {
            sub: sub.to_owned(),
            name: name.to_owned(),
            role,
            exp: now_secs + ttl_secs,
            iat: Some(now_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    const SECRET: &str = "0123456789abcdef0123456789abcdef-test";

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }
    fn pair() -> (TokenIssuer, TokenVerifier) {
        let s = SecretString::from(SECRET);
        (
            TokenIssuer::new(&s).unwrap(),
            TokenVerifier::new(&s).unwrap(),
        )
    }

    #[test]
    fn valid_token_gives_principal() {
        let (i, v) = pair();
        let t = i.mint_for("u1", "Ada", Role::Bidder, now(), 60).unwrap();
        let p = v.verify(Some(&t)).unwrap();
        assert_eq!(p.user_id.as_str(), "u1");
        assert_eq!(p.name, "Ada");
        assert_eq!(p.role, Role::Bidder);
    }

    #[test]
    fn refuses_missing_expired_forged_and_none() {
        let (i, v) = pair();
        assert_eq!(v.verify(None), Err(AuthError::MissingToken));
        let expired = i
            .mint_for("u1", "Ada", Role::Bidder, now() - 3600, 60)
            .unwrap();
        assert_eq!(v.verify(Some(&expired)), Err(AuthError::Expired));
        let other =
            TokenIssuer::new(&SecretString::from("another-secret-another-secret-000")).unwrap();
        let forged = other.mint_for("u1", "Ada", Role::Admin, now(), 60).unwrap();
        assert_eq!(v.verify(Some(&forged)), Err(AuthError::Invalid));
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = b64.encode(format!(
            r#"{{"sub":"u1","name":"Ada","role":"admin","exp":{}}}"#,
            now() + 60
        ));
        assert_eq!(
            v.verify(Some(&format!("{header}.{claims}."))),
            Err(AuthError::Invalid)
        );
        assert_eq!(v.verify(Some("garbage")), Err(AuthError::Invalid));
    }

    #[test]
    fn refuses_weak_secret_and_bad_claims() {
        assert!(TokenVerifier::new(&SecretString::from("short")).is_err());
        let (i, v) = pair();
        let bad_sub = i.mint_for("a#b", "Ada", Role::Bidder, now(), 60).unwrap();
        assert_eq!(v.verify(Some(&bad_sub)), Err(AuthError::Invalid));
        let no_name = i.mint_for("u1", "  ", Role::Bidder, now(), 60).unwrap();
        assert_eq!(v.verify(Some(&no_name)), Err(AuthError::Invalid));
    }
}
