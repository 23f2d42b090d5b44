//! HS256 JWT verification and minting: session tokens (the `Authorization: Bearer` of the HTTP API) and
//! WebSocket connect tickets.
//!
//! Two kinds of token, told apart by `aud`, never interchangeable:
//!
//! - **Session token** (`aud` = [`SESSION_AUDIENCE`]): `sub`, `name`, `role`, `iss` = [`ISSUER`], `iat`,
//!   `exp`, all required, `exp - iat` at most [`MAX_SESSION_SECS`]; an `nbf` is honoured. Bids, creates and
//!   ends take only these.
//! - **Connect ticket** (`aud` = [`TICKET_AUDIENCE`]): minted by `POST /auctions/{id}/ticket` for one signed-in
//!   user and one auction (`auc`), valid [`TICKET_TTL_SECS`] (at most [`MAX_TICKET_SECS`]). It is the only
//!   credential `$connect` takes: a URL (`?ticket=`) may end up in access logs and browser history, so what
//!   rides there can open one socket to one auction for a minute and do nothing else.
//!
//! Refused, each with its code ([`AuthError::code`]): another algorithm or `alg: none`, a forged signature, a
//! `crit` header (no extension is understood), a missing `iat` or one in the future, a lifetime over the cap,
//! a foreign `iss`, the wrong `aud`, a future `nbf`, an expired `exp`, a ticket of another auction.

use crate::domain::{validate_text, AuctionId, Principal, Role, UserId, MAX_NAME_LEN};
use jsonwebtoken::{
    decode, decode_header, encode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header,
    Validation,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The smallest accepted HS256 secret (bytes): shorter keys are brute-forceable.
pub const MIN_SECRET_LEN: usize = 32;
/// `iss` of every token this system accepts.
pub const ISSUER: &str = "live-auction";
/// `aud` of a session token (the HTTP API's bearer).
pub const SESSION_AUDIENCE: &str = "live-auction:api";
/// `aud` of a WebSocket connect ticket.
pub const TICKET_AUDIENCE: &str = "live-auction:ws-connect";
/// The longest a session token may live (`exp - iat`): 24 h.
pub const MAX_SESSION_SECS: u64 = 24 * 3600;
/// How long a minted ticket is valid.
pub const TICKET_TTL_SECS: u64 = 30;
/// The longest a ticket may live (`exp - iat`).
pub const MAX_TICKET_SECS: u64 = 60;
/// Clock skew allowed on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub name: String,
    pub role: Role,
    /// Expiry, epoch seconds.
    pub exp: u64,
    /// Issued at, epoch seconds (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not before, epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// A ticket's auction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auc: Option<String>,
}

impl Claims {
    /// The claims of a session token for `sub` valid `ttl_secs` from `now_secs`.
    pub fn session(sub: &str, name: &str, role: Role, now_secs: u64, ttl_secs: u64) -> Self {
        Self {
            sub: sub.to_owned(),
            name: name.to_owned(),
            role,
            exp: now_secs + ttl_secs,
            iat: Some(now_secs),
            nbf: None,
            iss: Some(ISSUER.to_owned()),
            aud: Some(SESSION_AUDIENCE.to_owned()),
            auc: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    MissingToken,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet (nbf)")]
    NotYetValid,
    #[error("token lifetime exceeds the cap")]
    LifetimeTooLong,
    #[error("this kind of token is not accepted here")]
    WrongAudience,
    #[error("the ticket is for another auction")]
    WrongAuction,
    #[error("invalid token")]
    Invalid,
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::Expired => "token_expired",
            AuthError::NotYetValid => "token_not_yet_valid",
            AuthError::LifetimeTooLong => "token_lifetime_too_long",
            AuthError::WrongAudience => "wrong_token_type",
            AuthError::WrongAuction => "ticket_wrong_auction",
            AuthError::Invalid => "invalid_token",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("JWT secret must be at least {MIN_SECRET_LEN} bytes")]
pub struct WeakSecret;

/// A freshly minted connect ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub ticket: String,
    /// Epoch milliseconds.
    pub expires_at: i64,
}

fn validation(audience: &str) -> Validation {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
    v.leeway = LEEWAY_SECS;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[audience]);
    v
}

fn now_secs() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

struct Keys {
    decoding: DecodingKey,
    encoding: EncodingKey,
}

/// Verifies session tokens and tickets, and mints tickets; built once per cold start.
#[derive(Clone)]
pub struct TokenVerifier {
    /// `None` in functions deployed without the secret: every token is then refused.
    keys: Option<std::sync::Arc<Keys>>,
    session: Validation,
    ticket: Validation,
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
        Ok(Self {
            keys: Some(std::sync::Arc::new(Keys {
                decoding: DecodingKey::from_secret(bytes),
                encoding: EncodingKey::from_secret(bytes),
            })),
            session: validation(SESSION_AUDIENCE),
            ticket: validation(TICKET_AUDIENCE),
        })
    }

    /// From an optional secret: without one, [`TokenVerifier::verify`] refuses every token.
    pub fn from_config(secret: Option<&SecretString>) -> Result<Self, WeakSecret> {
        match secret {
            Some(s) => Self::new(s),
            None => Ok(Self {
                keys: None,
                session: validation(SESSION_AUDIENCE),
                ticket: validation(TICKET_AUDIENCE),
            }),
        }
    }

    /// A session token (the HTTP API's bearer).
    pub fn verify(&self, token: Option<&str>) -> Result<Principal, AuthError> {
        let claims = self.claims(token, &self.session, MAX_SESSION_SECS)?;
        principal(&claims)
    }

    /// A connect ticket for `auction`.
    pub fn verify_ticket(
        &self,
        ticket: Option<&str>,
        auction: &AuctionId,
    ) -> Result<Principal, AuthError> {
        let claims = self.claims(ticket, &self.ticket, MAX_TICKET_SECS)?;
        if claims.auc.as_deref() != Some(auction.as_str()) {
            return Err(AuthError::WrongAuction);
        }
        principal(&claims)
    }

    /// A ticket for `who` to open one socket to `auction`, valid [`TICKET_TTL_SECS`].
    pub fn issue_ticket(&self, who: &Principal, auction: &AuctionId) -> Result<Ticket, AuthError> {
        let Some(keys) = &self.keys else {
            tracing::error!("a ticket was asked of a function deployed without the JWT secret");
            return Err(AuthError::Invalid);
        };
        let now = now_secs();
        let claims = Claims {
            aud: Some(TICKET_AUDIENCE.to_owned()),
            auc: Some(auction.as_str().to_owned()),
            ..Claims::session(
                who.user_id.as_str(),
                &who.name,
                who.role,
                now,
                TICKET_TTL_SECS,
            )
        };
        let ticket =
            encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).map_err(|e| {
                tracing::error!(error = %e, "ticket could not be signed");
                AuthError::Invalid
            })?;
        Ok(Ticket {
            ticket,
            expires_at: (claims.exp * 1000) as i64,
        })
    }

    fn claims(
        &self,
        token: Option<&str>,
        validation: &Validation,
        max_lifetime: u64,
    ) -> Result<Claims, AuthError> {
        let token = token.ok_or(AuthError::MissingToken)?;
        let Some(keys) = &self.keys else {
            tracing::error!("a token was presented to a function deployed without the JWT secret");
            return Err(AuthError::Invalid);
        };
        // jsonwebtoken does not look at `crit`; RFC 7515 §4.1.11: a header naming extensions the
        // recipient does not understand must be refused, and this one understands none.
        let header = decode_header(token).map_err(|_| AuthError::Invalid)?;
        if header.crit.is_some() {
            return Err(AuthError::Invalid);
        }
        let data =
            decode::<Claims>(token, &keys.decoding, validation).map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                _ => AuthError::Invalid,
            })?;
        let claims = data.claims;
        let iat = claims.iat.ok_or(AuthError::Invalid)?;
        if iat > now_secs() + LEEWAY_SECS {
            return Err(AuthError::Invalid);
        }
        if claims.exp.saturating_sub(iat) > max_lifetime {
            return Err(AuthError::LifetimeTooLong);
        }
        Ok(claims)
    }
}

fn principal(claims: &Claims) -> Result<Principal, AuthError> {
    let user_id = UserId::parse(&claims.sub).map_err(|_| AuthError::Invalid)?;
    let name =
        validate_text("name", &claims.name, MAX_NAME_LEN, true).map_err(|_| AuthError::Invalid)?;
    Ok(Principal {
        user_id,
        name,
        role: claims.role,
    })
}

/// Mints HS256 session tokens. Used by tests and by the local stack's dev-only `/dev/token` endpoint.
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

    /// Any claims, with any header (tests build hostile tokens with it).
    pub fn mint_with(
        &self,
        header: &Header,
        claims: &Claims,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        encode(header, claims, &self.key)
    }

    pub fn mint(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        self.mint_with(&Header::new(Algorithm::HS256), claims)
    }

    /// A session token valid for `ttl_secs` from `now_secs`.
    pub fn mint_for(
        &self,
        sub: &str,
        name: &str,
        role: Role,
        now_secs: u64,
        ttl_secs: u64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.mint(&Claims::session(sub, name, role, now_secs, ttl_secs))
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
