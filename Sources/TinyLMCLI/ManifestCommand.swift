import Foundation
import TinyLM
import TinyLMHost

/// `tinylm manifest create|keygen|verify`: the manifests published beside models, adapters
/// and knowledge files (DESIGN.md, "File manifests"). Hashing is the core's; Ed25519 keys and
/// signatures come from the system's `openssl` command (OpenSSL 3), so the package still
/// depends on nothing.
func runManifest(_ arguments: [String]) throws -> Int32 {
    guard let sub = arguments.first else {
        throw Arguments.UsageError(description: "manifest needs a subcommand: create, keygen or verify")
    }
    let rest = Array(arguments.dropFirst())
    switch sub {
    case "create": return try runManifestCreate(rest)
    case "keygen": return try runManifestKeygen(rest)
    case "verify": return try runManifestVerify(rest)
    default: throw Arguments.UsageError(description: "unknown manifest subcommand '\(sub)' (create, keygen, verify)")
    }
}

/// A failed check, named as the web API names it (IntegrityError, SignatureError, …).
struct VerificationFailure: Error, CustomStringConvertible {
    let name: String
    let message: String
    var description: String { "\(name): \(message)" }
}

private func failure(_ error: TinyLMError) -> VerificationFailure {
    switch error.kind {
    case .integrity: return VerificationFailure(name: "IntegrityError", message: error.message)
    case .invalidManifest: return VerificationFailure(name: "InvalidManifestError", message: error.message)
    default: return VerificationFailure(name: "Error", message: error.message)
    }
}

private func mapFile(_ path: String) throws -> MappedFile {
    guard FileManager.default.fileExists(atPath: path) else { throw CLIError(description: "file not found: \(path)") }
    do { return try MappedFile(path: path) } catch { throw CLIError(description: "cannot read \(path): \(error)") }
}

// MARK: create

private func runManifestCreate(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: ["--version", "--sign", "--out", "--chunk-size", "--name"], flags: [])
    guard a.positional.count == 1 else { throw Arguments.UsageError(description: "manifest create needs exactly one FILE") }
    let path = a.positional[0]
    let file = try mapFile(path)
    let chunkSize = try a.int("--chunk-size", default: FileManifest.defaultChunkSize)
    let name = a.value("--name") ?? URL(fileURLWithPath: path).lastPathComponent
    var manifest: FileManifest
    do {
        // Without --version the content names the version: the first 16 hex digits of its hash.
        manifest = try FileManifest(name: name, version: a.value("--version"), describing: file.bytes, chunkSize: chunkSize)
    } catch {
        throw CLIError(description: error.message)
    }
    if let keyPath = a.value("--sign") {
        let publicKey = try OpenSSL.rawPublicKey(privateKeyPath: keyPath)
        let value = try OpenSSL.sign(manifest.canonicalBytes, privateKeyPath: keyPath)
        manifest = manifest.signed(FileManifest.Signature(value: value, publicKey: publicKey))
    }
    let out = a.value("--out") ?? path + ".manifest.json"
    try Data(manifest.fileText.utf8).write(to: URL(fileURLWithPath: out))
    let signed = manifest.signature.map { " signed by \(Hex.encode($0.publicKey ?? []))" } ?? " (unsigned)"
    print("wrote \(out): \(manifest.name) version \(manifest.version), \(manifest.size) bytes, \(manifest.chunks.count) chunks of \(manifest.chunkSize),\(signed)")
    return 0
}

// MARK: keygen

private func runManifestKeygen(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: ["--out"], flags: [])
    guard a.positional.isEmpty else { throw Arguments.UsageError(description: "manifest keygen takes no positional arguments") }
    let prefix = a.value("--out") ?? "tinylm-signing"
    let privatePath = prefix + ".key", publicPath = prefix + ".pub"
    for path in [privatePath, publicPath] where FileManager.default.fileExists(atPath: path) {
        throw CLIError(description: "\(path) exists already; refusing to overwrite a key (choose another --out PREFIX)")
    }
    try OpenSSL.generatePrivateKey(at: privatePath)
    let publicKey = try OpenSSL.rawPublicKey(privateKeyPath: privatePath)
    let hex = Hex.encode(publicKey)
    try Data((hex + "\n").utf8).write(to: URL(fileURLWithPath: publicPath))
    print("private key: \(privatePath) (keep it secret; sign with: tinylm manifest create FILE --sign \(privatePath))")
    print("public key:  \(publicPath)")
    print("  hex:    \(hex)")
    print("  base64: \(Data(publicKey).base64EncodedString())")
    print("pass either as the publicKey option of TinyLM.load, or to tinylm manifest verify --public-key")
    return 0
}

// MARK: verify

private func runManifestVerify(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: ["--manifest", "--public-key"], flags: [])
    guard a.positional.count == 1 else { throw Arguments.UsageError(description: "manifest verify needs exactly one FILE") }
    let path = a.positional[0]
    let manifestPath = a.value("--manifest") ?? path + ".manifest.json"
    guard let text = FileManager.default.contents(atPath: manifestPath) else {
        throw CLIError(description: "cannot read the manifest \(manifestPath)")
    }
    do {
        let manifest: FileManifest
        do { manifest = try FileManifest(parsing: Array(text)) } catch { throw failure(error) }
        let trustedKey = try a.value("--public-key").map(parsePublicKey)
        let signatureNote = try checkSignature(manifest, trustedKey: trustedKey)
        let file = try mapFile(path)
        do { try manifest.verify(file.bytes) } catch { throw failure(error) }
        let fileName = URL(fileURLWithPath: path).lastPathComponent
        let renamed = fileName == manifest.name ? "" : " (published as \(manifest.name))"
        print("OK: \(fileName)\(renamed) version \(manifest.version): \(manifest.size) bytes, \(manifest.chunks.count) chunks match; \(signatureNote)")
        return 0
    } catch let error as VerificationFailure {
        FileHandle.standardError.write("\(error.description)\n".data(using: .utf8)!)
        return 1
    }
}

/// Checks the signature: against `trustedKey` when given (then an unsigned manifest fails),
/// else against the key the manifest names (which only shows the manifest is intact).
private func checkSignature(_ manifest: FileManifest, trustedKey: [UInt8]?) throws -> String {
    guard let signature = manifest.signature else {
        if trustedKey != nil { throw VerificationFailure(name: "SignatureError", message: "the manifest is not signed, and a public key is required") }
        return "not signed"
    }
    guard let key = trustedKey ?? signature.publicKey else {
        return "signed, but the manifest names no key: pass --public-key to check it"
    }
    guard try OpenSSL.verify(signature.value, of: manifest.canonicalBytes, rawPublicKey: key) else {
        let whose = trustedKey == nil ? "the key the manifest names" : "the given public key"
        throw VerificationFailure(name: "SignatureError", message: "the signature does not match \(whose) (the manifest was changed, or signed with another key)")
    }
    if trustedKey != nil { return "signature valid for the given public key" }
    return "signature valid for the key the manifest names (\(Hex.encode(key))); pass --public-key to require a trusted key"
}

/// A raw Ed25519 public key from 64 hex digits, 44 base64 characters, or a file holding
/// either (as `keygen` writes) or a PEM public key.
private func parsePublicKey(_ text: String) throws -> [UInt8] {
    func decode(_ candidate: String) -> [UInt8]? {
        let trimmed = candidate.trimmingCharacters(in: .whitespacesAndNewlines)
        if let bytes = Hex.decode(trimmed.lowercased(), count: 32) { return bytes }
        if trimmed.count == 44, let data = Data(base64Encoded: trimmed), data.count == 32 { return Array(data) }
        return nil
    }
    if let key = decode(text) { return key }
    if let contents = FileManager.default.contents(atPath: text), let string = String(data: contents, encoding: .utf8) {
        if let key = decode(string) { return key }
        if string.contains("-----BEGIN PUBLIC KEY-----") { return try OpenSSL.rawPublicKey(publicKeyPEMPath: text) }
    }
    throw CLIError(description: "--public-key expects 64 hex digits, 44 base64 characters, or a file holding either (or a PEM public key)")
}
