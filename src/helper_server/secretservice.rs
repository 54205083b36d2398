//! The desktop keyring through the freedesktop Secret Service API on the session D-Bus
//! (gnome-keyring, KeePassXC, KWallet's bridge), pure Rust (zbus), no libsecret.
//!
//! Items are the ones `docker-credential-secretservice` writes with libsecret: in the default
//! collection, label = ServerURL, attributes `xdg:schema` = `io.docker.Credentials`, `label` =
//! `Docker Credentials`, `server` = ServerURL, `username`, `docker_cli` = `1`; the item's secret
//! is the secret (`text/plain`). So each tool reads what the other wrote.
//!
//! Differences, on purpose: `store` removes the items of other usernames for the same server
//! (the Go helper keeps them and its `get` then returns whichever the keyring lists last), and
//! `list` keys by the `server` attribute, not the item's display label.
//!
//! Secrets cross the bus in the `plain` session algorithm: the bus is the user's own local
//! socket, which any process of that user can already use to ask the keyring for the secret.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use zbus::blocking::Connection;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};

use super::{Backend, HelperError};
use crate::secret::Secret;

const NAME: &str = "secretservice";
const DESTINATION: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const DEFAULT_COLLECTION: &str = "/org/freedesktop/secrets/aliases/default";
const SERVICE_IFACE: &str = "org.freedesktop.Secret.Service";
const COLLECTION_IFACE: &str = "org.freedesktop.Secret.Collection";
const ITEM_IFACE: &str = "org.freedesktop.Secret.Item";
const PROPERTIES_IFACE: &str = "org.freedesktop.DBus.Properties";

/// The libsecret schema name docker-credential-secretservice uses.
pub const SCHEMA: &str = "io.docker.Credentials";
/// The `label` attribute every Docker item carries.
pub const CREDS_LABEL: &str = "Docker Credentials";

/// How long one D-Bus call may take before the keyring is declared unresponsive.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// `(session, parameters, value, content type)`: the Secret Service's `Secret` struct.
type WireSecret = (OwnedObjectPath, Vec<u8>, Vec<u8>, String);

/// A connection to the Secret Service with an open `plain` session.
pub struct SecretService {
    connection: Connection,
    session: OwnedObjectPath,
}

impl SecretService {
    /// Whether a session bus is configured at all (`DBUS_SESSION_BUS_ADDRESS`, or
    /// `$XDG_RUNTIME_DIR/bus`), without connecting.
    pub fn available() -> bool {
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|value| !value.is_empty()) {
            return true;
        }
        std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|dir| !dir.is_empty())
            .is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists())
    }

    /// Connects to the session bus and opens a session with the Secret Service.
    pub fn connect() -> Result<SecretService, HelperError> {
        let connection = zbus::blocking::connection::Builder::session()
            .and_then(|builder| builder.method_timeout(CALL_TIMEOUT).build())
            .map_err(|err| {
                HelperError::backend(NAME, format!("cannot connect to the session D-Bus: {err}"))
            })?;
        let reply = connection
            .call_method(
                Some(DESTINATION),
                SERVICE_PATH,
                Some(SERVICE_IFACE),
                "OpenSession",
                &("plain", Value::from("")),
            )
            .map_err(|err| {
                HelperError::backend(NAME, format!("no Secret Service on the session bus: {err}"))
            })?;
        let (_, session): (OwnedValue, OwnedObjectPath) =
            reply.body().deserialize().map_err(dbus_error)?;
        Ok(SecretService {
            connection,
            session,
        })
    }

    fn call<B>(
        &self,
        path: &str,
        interface: &str,
        method: &str,
        body: &B,
    ) -> Result<zbus::Message, HelperError>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        self.connection
            .call_method(Some(DESTINATION), path, Some(interface), method, body)
            .map_err(|err| HelperError::backend(NAME, format!("{interface}.{method}: {err}")))
    }

    /// Every item whose attributes include all of `attributes`, unlocked first.
    fn search(&self, attributes: &[(&str, &str)]) -> Result<Vec<OwnedObjectPath>, HelperError> {
        let query: HashMap<&str, &str> = attributes.iter().copied().collect();
        let reply = self.call(SERVICE_PATH, SERVICE_IFACE, "SearchItems", &(query,))?;
        let (mut unlocked, locked): (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) =
            reply.body().deserialize().map_err(dbus_error)?;
        if !locked.is_empty() {
            unlocked.extend(self.unlock(locked)?);
        }
        Ok(unlocked)
    }

    /// Unlocks objects that need no prompt; a locked keyring that would need one is an error.
    fn unlock(&self, objects: Vec<OwnedObjectPath>) -> Result<Vec<OwnedObjectPath>, HelperError> {
        let reply = self.call(SERVICE_PATH, SERVICE_IFACE, "Unlock", &(objects,))?;
        let (unlocked, prompt): (Vec<OwnedObjectPath>, OwnedObjectPath) =
            reply.body().deserialize().map_err(dbus_error)?;
        if prompt.as_str() != "/" {
            return Err(HelperError::backend(
                NAME,
                "the keyring is locked and unlocking it needs a prompt; unlock it (log in to the \
                 desktop session, or `gnome-keyring-daemon --unlock`) and try again",
            ));
        }
        Ok(unlocked)
    }

    fn attributes(&self, item: &ObjectPath<'_>) -> Result<HashMap<String, String>, HelperError> {
        let reply = self.call(
            item.as_str(),
            PROPERTIES_IFACE,
            "Get",
            &(ITEM_IFACE, "Attributes"),
        )?;
        let value: OwnedValue = reply.body().deserialize().map_err(dbus_error)?;
        HashMap::<String, String>::try_from(value).map_err(dbus_error)
    }

    fn secret(&self, item: &ObjectPath<'_>) -> Result<Secret, HelperError> {
        let reply = self.call(item.as_str(), ITEM_IFACE, "GetSecret", &(&self.session,))?;
        let (_, mut parameters, value, _): WireSecret =
            reply.body().deserialize().map_err(dbus_error)?;
        zeroize::Zeroize::zeroize(&mut parameters);
        String::from_utf8(value).map(Secret::new).map_err(|err| {
            let mut bytes = err.into_bytes();
            zeroize::Zeroize::zeroize(&mut bytes);
            HelperError::backend(NAME, "the keyring item's secret is not UTF-8")
        })
    }

    fn delete(&self, item: &ObjectPath<'_>) -> Result<(), HelperError> {
        let reply = self.call(item.as_str(), ITEM_IFACE, "Delete", &())?;
        let prompt: OwnedObjectPath = reply.body().deserialize().map_err(dbus_error)?;
        if prompt.as_str() != "/" {
            return Err(HelperError::backend(
                NAME,
                "deleting a keyring item needs a prompt; unlock the keyring and try again",
            ));
        }
        Ok(())
    }

    /// Docker's items for `server_url` (as both helpers search: `server` and `docker_cli`, of
    /// the Docker schema).
    fn items_for(&self, server_url: &str) -> Result<Vec<OwnedObjectPath>, HelperError> {
        self.search(&[
            ("xdg:schema", SCHEMA),
            ("server", server_url),
            ("docker_cli", "1"),
        ])
    }
}

impl Backend for SecretService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn get(&self, server_url: &str) -> Result<Option<(String, Secret)>, HelperError> {
        // Like the Go helper: when several match, the last one listed wins.
        let Some(item) = self.items_for(server_url)?.pop() else {
            return Ok(None);
        };
        let username = self
            .attributes(&item)?
            .remove("username")
            .unwrap_or_default();
        Ok(Some((username, self.secret(&item)?)))
    }

    fn store(&self, server_url: &str, username: &str, secret: &Secret) -> Result<(), HelperError> {
        let collection = OwnedObjectPath::try_from(DEFAULT_COLLECTION).map_err(dbus_error)?;
        self.unlock(vec![collection])?;
        let attributes: HashMap<&str, &str> = HashMap::from([
            ("xdg:schema", SCHEMA),
            ("label", CREDS_LABEL),
            ("server", server_url),
            ("username", username),
            ("docker_cli", "1"),
        ]);
        let properties: HashMap<&str, Value<'_>> = HashMap::from([
            ("org.freedesktop.Secret.Item.Label", Value::from(server_url)),
            (
                "org.freedesktop.Secret.Item.Attributes",
                Value::from(attributes),
            ),
        ]);
        let wire_secret = (
            self.session.as_ref(),
            Vec::<u8>::new(),
            secret.expose().as_bytes().to_vec(),
            "text/plain",
        );
        let result = self.call(
            DEFAULT_COLLECTION,
            COLLECTION_IFACE,
            "CreateItem",
            &(properties, &wire_secret, true),
        );
        let mut value = wire_secret.2;
        zeroize::Zeroize::zeroize(&mut value);
        let reply = result.map_err(|err| match err {
            HelperError::Backend { message, .. } if message.contains("does not exist") => {
                HelperError::backend(
                    NAME,
                    format!("the keyring has no default collection: {message}"),
                )
            }
            other => other,
        })?;
        let (created, prompt): (OwnedObjectPath, OwnedObjectPath) =
            reply.body().deserialize().map_err(dbus_error)?;
        if prompt.as_str() != "/" {
            return Err(HelperError::backend(
                NAME,
                "storing in the keyring needs a prompt; unlock the keyring and try again",
            ));
        }
        // One entry per server: drop what other usernames left for it.
        for item in self.items_for(server_url)? {
            if item != created
                && self.attributes(&item)?.get("username").map(String::as_str) != Some(username)
            {
                self.delete(&item)?;
            }
        }
        Ok(())
    }

    fn erase(&self, server_url: &str) -> Result<bool, HelperError> {
        let items = self.items_for(server_url)?;
        for item in &items {
            self.delete(item)?;
        }
        Ok(!items.is_empty())
    }

    fn list(&self) -> Result<BTreeMap<String, String>, HelperError> {
        let mut listing = BTreeMap::new();
        for item in self.search(&[("xdg:schema", SCHEMA), ("docker_cli", "1")])? {
            let mut attributes = self.attributes(&item)?;
            if let Some(server) = attributes.remove("server") {
                listing.insert(server, attributes.remove("username").unwrap_or_default());
            }
        }
        Ok(listing)
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        let _ = self.connection.call_method(
            Some(DESTINATION),
            self.session.as_str(),
            Some("org.freedesktop.Secret.Session"),
            "Close",
            &(),
        );
    }
}

fn dbus_error(err: impl std::fmt::Display) -> HelperError {
    HelperError::backend(
        NAME,
        format!("unexpected answer from the Secret Service: {err}"),
    )
}
