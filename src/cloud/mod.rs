//! Cloud registries whose passwords come from the cloud provider's API rather than from the
//! user: Amazon ECR (private and Public) through AWS credentials; Google Container Registry and
//! Artifact Registry through Google's Application Default Credentials; Azure Container Registry
//! through an Entra ID service principal.
//!
//! Nothing in here runs unless a cloud command (`ecr`, `gcr`, `acr`) or one of the provider's
//! hosts asks for it, so `login`/`get` for other registries never pay for it (no files read, no
//! clients built).

pub mod aws;
pub mod azure;
pub mod ecr;
pub mod gcp;
