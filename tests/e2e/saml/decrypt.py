"""Decrypts Portner's EncryptedAssertion with the PyPI xmlsec binding (libxmlsec1 1.3).

Debian's xmlsec1 1.2 cannot decrypt the OIOSAML 3 key transport (xmlenc11#rsa-oaep with
SHA-256 and MGF1-SHA256), so the Rust tests use this independent decryptor for that pair
(security-tests.md 7.1). Usage: decrypt.py RESPONSE.xml SP_KEY.pem; prints the document with
the assertion decrypted in place.
"""

import sys

import xmlsec
from lxml import etree


def main() -> None:
    response_path, key_path = sys.argv[1], sys.argv[2]
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    document = etree.parse(response_path, parser)
    encrypted_data = document.find(".//{http://www.w3.org/2001/04/xmlenc#}EncryptedData")
    if encrypted_data is None:
        sys.exit("no EncryptedData")
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_file(key_path, xmlsec.constants.KeyDataFormatPem))
    context = xmlsec.EncryptionContext(manager)
    # Decryption replaces EncryptedData in the tree, so the whole document is printed.
    context.decrypt(encrypted_data)
    print(etree.tostring(document).decode())


if __name__ == "__main__":
    main()
