//! Cloud registries whose passwords come from the cloud provider's API rather than from the
//! user: Amazon ECR (private and Public) through AWS credentials; Google Container Registry and
//! Artifact Registry through Google's Application Default Credentials; Azure Container Registry
//! through an Entra ID service principal.
//!
//! Nothing in here runs unless an `ecr` command or an ECR host asks for it, so `login`/`get` for
//! other registries never pay for AWS (no files read, no clients built).

pub mod aws;
pub mod azure;
pub mod ecr;
pub mod gcp;
