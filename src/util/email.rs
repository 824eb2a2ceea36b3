//! An e-mail address read once, with the parser the mail layer sends with: an address
//! accepted in a fact, an account or a configuration can be written to.

use lettre::message::Mailbox;

/// `name@example.org` or `Name <name@example.org>` as a mailbox, or lettre's reason
/// for refusing it.
pub fn parse(s: &str) -> Result<Mailbox, lettre::address::AddressError> {
    s.parse()
}
