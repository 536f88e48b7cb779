//! Password hashing with argon2id (OWASP parameters: m = 19456 KiB, t = 2, p = 1), off the async
//! threads on [`HASH_THREADS`] dedicated threads, with the caller's tracing span carried over.
//!
//! An unknown email is verified against a dummy hash made once at start-up, so that a wrong email
//! and a wrong password cost the same time.

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use ports::{HashError, PasswordHasher};
use secrecy::{ExposeSecret, SecretString};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// OWASP's argon2id recommendation.
pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

/// How many threads hash. Each argon2id hash takes a 19 MiB block, and the allocator keeps a
/// freed block in the arena of the thread that used it: on tokio's blocking pool (up to 512
/// threads) every thread that ever hashed kept its 19 MiB, and a burst of 12 sign-ins took an idle
/// server from 13 MB to 247 MB of RSS for good. Two dedicated threads bound that to two blocks,
/// and bound the CPU a burst of sign-ins can take from the rest of the server.
pub const HASH_THREADS: usize = 2;

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads; they stop when this is dropped.
struct HashThreads {
    jobs: mpsc::Sender<Job>,
}

impl HashThreads {
    fn start(threads: usize) -> Result<HashThreads, HashError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    loop {
                        // One thread waits for the next job while holding the lock; the others
                        // wait for the lock.
                        let next = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match next {
                            Ok(job) => job(),
                            // The hasher is gone.
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| HashError(format!("starting a hashing thread: {e}")))?;
        }
        Ok(HashThreads { jobs })
    }

    /// Runs `work` on a hashing thread inside the current span.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let span = tracing::Span::current();
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                // The caller may have gone away meanwhile: then nobody wants the answer.
                let _ = done.send(span.in_scope(work));
            }))
            .map_err(|_| HashError("the hashing threads stopped".into()))?;
        answer
            .await
            .map_err(|_| HashError("a hashing job was lost".into()))?
    }
}

/// The argon2id hasher.
pub struct Argon2Hasher {
    params: Params,
    dummy_hash: String,
    threads: HashThreads,
}

impl Argon2Hasher {
    /// Builds the hasher and its dummy hash (one hash computed off the async threads).
    pub async fn new() -> Result<Argon2Hasher, HashError> {
        let params =
            Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(|e| HashError(e.to_string()))?;
        let threads = HashThreads::start(HASH_THREADS)?;
        let for_dummy = params.clone();
        let dummy_hash = threads
            .run(move || {
                let random: [u8; 24] = rand::random();
                argon2(&for_dummy)
                    .hash_password(&random)
                    .map(|h| h.to_string())
                    .map_err(|e| HashError(e.to_string()))
            })
            .await?;
        Ok(Argon2Hasher {
            params,
            dummy_hash,
            threads,
        })
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = SecretString::from(password.to_owned());
        let params = self.params.clone();
        self.threads
            .run(move || {
                argon2(&params)
                    .hash_password(password.expose_secret().as_bytes())
                    .map(|h| h.to_string())
                    .map_err(|e| HashError(e.to_string()))
            })
            .await
    }

    async fn verify(&self, password: &str, hash: Option<String>) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let password = SecretString::from(password.to_owned());
        let params = self.params.clone();
        let matches = self
            .threads
            .run(move || {
                match argon2(&params)
                    .verify_password(password.expose_secret().as_bytes(), hash.as_str())
                {
                    Ok(()) => Ok(true),
                    Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                    Err(e) => Err(HashError(format!("stored hash unusable: {e}"))),
                }
            })
            .await?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hasher = Argon2Hasher::new().await.expect("hasher");
        let hash = hasher.hash("correct horse").await.expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(!hash.contains("correct horse"));
        assert!(
            hasher
                .verify("correct horse", Some(hash.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("wrong horse", Some(hash.clone()))
                .await
                .expect("verify")
        );
        let again = hasher.hash("correct horse").await.expect("hash");
        assert_ne!(hash, again, "salted");
    }

    #[tokio::test]
    async fn unknown_users_are_checked_against_the_dummy_hash() {
        let hasher = Argon2Hasher::new().await.expect("hasher");
        assert!(hasher.dummy_hash.starts_with("$argon2id$"));
        // Whatever the password, no user means no match, and the work done is a real verification
        // of a hash with the same parameters.
        assert!(!hasher.verify("anything", None).await.expect("verify"));
        assert!(!hasher.verify("", None).await.expect("verify"));
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_an_error_not_a_match() {
        let hasher = Argon2Hasher::new().await.expect("hasher");
        assert!(
            hasher
                .verify("pw", Some("not-a-phc-string".into()))
                .await
                .is_err()
        );
    }
}
