//! Password hashing with argon2id (OWASP parameters: m = 19456 KiB, t = 2, p = 1), off the async
//! threads on [`HASH_THREADS`] dedicated threads, with the caller's tracing span carried over.
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), exactly what
//! `argon2`'s own `PasswordHasher` writes; a stored hash with other parameters (or argon2i/d)
//! still verifies.
//!
//! Each hashing thread owns one 19 MiB block of argon2 memory, allocated at its first job and
//! reused by every hash after it (`Argon2::hash_password_into_with_memory`). Letting `argon2`
//! allocate and free a block per hash instead left those blocks in glibc's per-thread arenas: a
//! plainly started server grew to ~250 MB of RSS after 64 concurrent sign-ins, unless `MALLOC_*`
//! variables were tuned. Now the memory is bounded by `HASH_THREADS` blocks (release build: 15 MB
//! idle, 55 MB after such bursts), and an idle server (no hash yet) has none of it.
//!
//! An unknown email is verified against a dummy hash with the same parameters (made at start-up
//! from a random salt and a random output, so it matches no password), so that a wrong email and
//! a wrong password cost the same time.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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

/// How many threads hash. Each hash needs a 19 MiB block of memory, which each thread keeps for
/// reuse: two threads bound that to two blocks, and bound the CPU a burst of sign-ins can take
/// from the rest of the server (tokio's blocking pool, up to 512 threads, bounded neither).
pub const HASH_THREADS: usize = 2;

/// Bytes of a salt we make (password-hash's recommended length, what `hash_password` used).
const SALT_LEN: usize = 16;
/// Blocks (of 1 KiB) of the hasher's own parameters: m = 19456 is a multiple of 4 × p.
const OWN_BLOCKS: usize = M_COST_KIB as usize;
/// Bytes of a hash we make (argon2's default output length).
const OUTPUT_LEN: usize = Params::DEFAULT_OUTPUT_LEN;

/// A hashing thread's argon2 memory: empty until its first hash, then the blocks of the
/// hasher's parameters, reused by every hash that needs no more.
type Memory = Vec<Block>;

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

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
                    // This thread's memory, for all its jobs.
                    let mut memory = Memory::new();
                    loop {
                        // One thread waits for the next job while holding the lock; the others
                        // wait for the lock.
                        let next = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match next {
                            Ok(job) => job(&mut memory),
                            // The hasher is gone.
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| HashError(format!("starting a hashing thread: {e}")))?;
        }
        Ok(HashThreads { jobs })
    }

    /// Runs `work` on a hashing thread, with that thread's memory, inside the current span.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let span = tracing::Span::current();
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(move |memory: &mut Memory| {
                // The caller may have gone away meanwhile: then nobody wants the answer.
                let _ = done.send(span.in_scope(|| work(memory)));
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
    /// Builds the hasher, its threads and its dummy hash.
    pub async fn new() -> Result<Argon2Hasher, HashError> {
        let params = owasp_params()?;
        let threads = HashThreads::start(HASH_THREADS)?;
        // Any output will do: no password hashes to it (but for a 2^-256 chance), and verifying
        // against it costs what verifying against a real hash with these parameters costs.
        let dummy_hash = phc_string(
            &params,
            &random_salt()?,
            &rand::random::<[u8; OUTPUT_LEN]>(),
        )?;
        Ok(Argon2Hasher {
            params,
            dummy_hash,
            threads,
        })
    }
}

fn owasp_params() -> Result<Params, HashError> {
    Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN)).map_err(|e| HashError(e.to_string()))
}

/// A salt from the operating system's random source.
fn random_salt() -> Result<[u8; SALT_LEN], HashError> {
    argon2::password_hash::try_generate_salt().map_err(|e| HashError(format!("no salt: {e}")))
}

/// The PHC string of an argon2id (version 0x13) hash: `$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>`.
fn phc_string(params: &Params, salt: &[u8], output: &[u8]) -> Result<String, HashError> {
    let unusable = |e: &dyn std::fmt::Display| HashError(format!("encoding a hash: {e}"));
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| unusable(&e))?,
        salt: Some(Salt::new(salt).map_err(|e| unusable(&e))?),
        hash: Some(Output::new(output).map_err(|e| unusable(&e))?),
    };
    Ok(hash.to_string())
}

/// The raw argon2 hash of `password` with `salt` into `out`, in `memory` when the parameters
/// need no more blocks than the hasher's own (allocated there at the first use), else in blocks
/// allocated for this one hash (a stored hash with bigger parameters).
fn raw_hash(
    memory: &mut Memory,
    argon2: &Argon2<'_>,
    blocks: usize,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    if blocks > OWN_BLOCKS {
        // Parameters read from the database: not enough memory is an error, not an abort.
        let mut once = Vec::new();
        once.try_reserve_exact(blocks)
            .map_err(|_| argon2::Error::OutOfMemory)?;
        once.resize(blocks, Block::default());
        return argon2.hash_password_into_with_memory(password, salt, out, &mut once[..]);
    }
    if memory.len() < OWN_BLOCKS {
        *memory = vec![Block::default(); OWN_BLOCKS];
    }
    argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..])
}

/// A new PHC string for `password` with `params` and a random salt.
fn hash_in(memory: &mut Memory, params: &Params, password: &[u8]) -> Result<String, HashError> {
    let salt = random_salt()?;
    hash_with_salt_in(memory, params, password, &salt)
}

fn hash_with_salt_in(
    memory: &mut Memory,
    params: &Params,
    password: &[u8],
    salt: &[u8],
) -> Result<String, HashError> {
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; OUTPUT_LEN];
    raw_hash(
        memory,
        &argon2,
        params.block_count(),
        password,
        salt,
        &mut out,
    )
    .map_err(|e| HashError(e.to_string()))?;
    phc_string(params, salt, &out)
}

/// Whether `password` hashes to the stored PHC string `stored`, with the algorithm, version,
/// parameters and salt written in it; the outputs are compared in constant time. A string that
/// is no argon2 PHC hash is an error; one without a salt or an output matches nothing (as
/// `argon2`'s own `verify_password` answers).
fn verify_in(memory: &mut Memory, password: &[u8], stored: &str) -> Result<bool, HashError> {
    let unusable = |e: &dyn std::fmt::Display| HashError(format!("stored hash unusable: {e}"));
    let hash = PasswordHash::new(stored).map_err(|e| unusable(&e))?;
    let algorithm = Algorithm::try_from(hash.algorithm.as_str()).map_err(|e| unusable(&e))?;
    let version = hash
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| unusable(&e))?
        .unwrap_or_default();
    let params = Params::try_from(&hash).map_err(|e| unusable(&e))?;
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Ok(false);
    };
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let out = buffer
        .get_mut(..expected.len())
        .ok_or_else(|| unusable(&"output too long"))?;
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    raw_hash(memory, &argon2, blocks, password, salt, out).map_err(|e| unusable(&e))?;
    let computed = Output::new(out).map_err(|e| unusable(&e))?;
    // `Output`'s equality is constant-time.
    Ok(computed == *expected)
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = SecretString::from(password.to_owned());
        let params = self.params.clone();
        self.threads
            .run(move |memory| hash_in(memory, &params, password.expose_secret().as_bytes()))
            .await
    }

    async fn verify(&self, password: &str, hash: Option<String>) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let password = SecretString::from(password.to_owned());
        let matches = self
            .threads
            .run(move |memory| verify_in(memory, password.expose_secret().as_bytes(), &hash))
            .await?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    /// The hash `argon2` itself makes with these parameters (the code before this module reused
    /// its memory): a random salt, `argon2` allocating the blocks.
    fn argon2_crate_hash(algorithm: Algorithm, params: Params, password: &str) -> String {
        Argon2::new(algorithm, Version::V0x13, params)
            .hash_password(password.as_bytes())
            .expect("hash")
            .to_string()
    }

    fn params(m: u32, t: u32, p: u32) -> Params {
        Params::new(m, t, p, None).expect("params")
    }

    #[test]
    fn the_own_block_count_is_that_of_the_owasp_parameters() {
        assert_eq!(owasp_params().expect("params").block_count(), OWN_BLOCKS);
    }

    #[test]
    fn the_phc_string_is_byte_for_byte_what_argon2_writes() {
        let params = owasp_params().expect("params");
        let salt = *b"0123456789abcdef";
        let mut memory = Memory::new();
        let ours = hash_with_salt_in(&mut memory, &params, b"correct horse", &salt).expect("hash");
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_with_salt(b"correct horse", &salt)
            .expect("hash")
            .to_string();
        assert_eq!(ours, theirs);
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        assert_eq!(memory.len(), OWN_BLOCKS, "hashed in the thread's memory");
    }

    #[test]
    fn hashes_of_the_argon2_crate_verify_here_and_ours_verify_there() {
        let mut memory = Memory::new();
        let owasp = owasp_params().expect("params");
        let old = argon2_crate_hash(Algorithm::Argon2id, owasp.clone(), "correct horse");
        assert!(verify_in(&mut memory, b"correct horse", &old).expect("verify"));
        assert!(!verify_in(&mut memory, b"wrong horse", &old).expect("verify"));

        let new = hash_in(&mut memory, &owasp, b"correct horse").expect("hash");
        let argon2 = Argon2::default();
        assert!(
            argon2
                .verify_password(b"correct horse", new.as_str())
                .is_ok()
        );
        assert_eq!(
            argon2.verify_password(b"wrong horse", new.as_str()),
            Err(argon2::password_hash::Error::PasswordInvalid)
        );
    }

    #[test]
    fn stored_hashes_with_other_parameters_still_verify() {
        // One memory for all, in this order: smaller parameters reuse the blocks a bigger hash
        // left behind, and bigger ones get blocks of their own.
        let mut memory = Memory::new();
        for (algorithm, params) in [
            (Algorithm::Argon2id, owasp_params().expect("params")),
            (Algorithm::Argon2id, params(8192, 2, 1)),
            (Algorithm::Argon2id, params(8192, 1, 2)),
            (Algorithm::Argon2i, params(4096, 3, 1)),
            (Algorithm::Argon2id, params(24_576, 1, 1)),
            (Algorithm::Argon2id, owasp_params().expect("params")),
        ] {
            let stored = argon2_crate_hash(algorithm, params, "pw-1234");
            assert!(
                verify_in(&mut memory, b"pw-1234", &stored).expect("verify"),
                "{stored}"
            );
            assert!(
                !verify_in(&mut memory, b"pw-1235", &stored).expect("verify"),
                "{stored}"
            );
        }
        assert_eq!(
            memory.len(),
            OWN_BLOCKS,
            "bigger parameters did not grow it"
        );
        // Written as a stored m=8192 hash would be.
        let stored = argon2_crate_hash(Algorithm::Argon2id, params(8192, 2, 1), "pw-1234");
        assert!(
            stored.starts_with("$argon2id$v=19$m=8192,t=2,p=1$"),
            "{stored}"
        );
    }

    #[test]
    fn a_hash_without_salt_or_output_matches_nothing() {
        let mut memory = Memory::new();
        assert!(!verify_in(&mut memory, b"pw", "$argon2id$v=19$m=19456,t=2,p=1").expect("verify"));
        assert!(
            verify_in(
                &mut memory,
                b"pw",
                "$argon2id$v=19$m=0,t=2,p=1$c2FsdHNhbHQ$aGFzaA"
            )
            .is_err()
        );
        assert!(verify_in(&mut memory, b"pw", "$bcrypt$whatever").is_err());
    }

    #[tokio::test]
    async fn the_hasher_verifies_stored_hashes_of_the_argon2_crate_on_its_threads() {
        let hasher = Argon2Hasher::new().await.expect("hasher");
        for params in [owasp_params().expect("params"), params(8192, 2, 1)] {
            let stored = argon2_crate_hash(Algorithm::Argon2id, params, "s3cret-pw");
            for _ in 0..HASH_THREADS + 1 {
                assert!(
                    hasher
                        .verify("s3cret-pw", Some(stored.clone()))
                        .await
                        .expect("verify")
                );
                assert!(
                    !hasher
                        .verify("s3cret-px", Some(stored.clone()))
                        .await
                        .expect("verify")
                );
            }
        }
    }

    #[tokio::test]
    async fn the_dummy_hash_has_the_owasp_parameters_and_matches_no_password() {
        let hasher = Argon2Hasher::new().await.expect("hasher");
        assert!(
            hasher
                .dummy_hash
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hasher.dummy_hash
        );
        let mut memory = Memory::new();
        assert!(!verify_in(&mut memory, b"", &hasher.dummy_hash).expect("verify"));
        let other = Argon2Hasher::new().await.expect("hasher");
        assert_ne!(hasher.dummy_hash, other.dummy_hash, "random");
    }

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
