import Foundation

/// Ed25519 through the system's `openssl` command (OpenSSL 3: `genpkey`, `pkey`, `pkeyutl
/// -rawin`). A subprocess rather than libcrypto, so that building needs no OpenSSL headers and
/// the package no system-library target; signing is rare and small (a manifest is a few KB).
enum OpenSSL {
    /// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw 32-byte key follows.
    private static let publicKeyDERPrefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]

    struct Result { let status: Int32; let output: Data; let errors: String }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw CLIError(description: "cannot run openssl (\(error)); install OpenSSL 3 (scripts/setup.sh does)")
        }
        // openssl's output here is at most a few hundred bytes, far below a pipe's buffer, so
        // reading one pipe after the other cannot block the child.
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let message = String(decoding: errorData, as: UTF8.self)
        if process.terminationStatus == 127 || message.contains("openssl: No such file") {
            throw CLIError(description: "the openssl command is missing; install OpenSSL 3 (scripts/setup.sh does)")
        }
        return Result(status: process.terminationStatus, output: outputData, errors: message)
    }

    private static func require(_ result: Result, _ what: String) throws -> Data {
        guard result.status == 0 else {
            throw CLIError(description: "openssl failed to \(what): \(result.errors.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return result.output
    }

    /// A scratch directory only this user can read, removed after `body`.
    private static func withScratch<T>(_ body: (URL) throws -> T) throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tinylm-openssl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: directory) }
        return try body(directory)
    }

    /// Writes a new Ed25519 private key (PKCS#8 PEM) readable only by the owner.
    static func generatePrivateKey(at path: String) throws {
        let pem = try require(try run(["genpkey", "-algorithm", "ed25519"]), "generate an Ed25519 key")
        guard FileManager.default.createFile(atPath: path, contents: pem, attributes: [.posixPermissions: 0o600]) else {
            throw CLIError(description: "cannot write \(path)")
        }
    }

    static func rawPublicKey(privateKeyPath: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: privateKeyPath) else { throw CLIError(description: "key file not found: \(privateKeyPath)") }
        return try rawKey(from: require(try run(["pkey", "-in", privateKeyPath, "-pubout", "-outform", "DER"]), "read the key \(privateKeyPath)"))
    }

    static func rawPublicKey(publicKeyPEMPath: String) throws -> [UInt8] {
        try rawKey(from: require(try run(["pkey", "-pubin", "-in", publicKeyPEMPath, "-outform", "DER"]), "read the public key \(publicKeyPEMPath)"))
    }

    private static func rawKey(from der: Data) throws -> [UInt8] {
        let bytes = Array(der)
        guard bytes.count == publicKeyDERPrefix.count + 32, Array(bytes.prefix(publicKeyDERPrefix.count)) == publicKeyDERPrefix else {
            throw CLIError(description: "not an Ed25519 key (manifests are signed with Ed25519: tinylm manifest keygen makes one)")
        }
        return Array(bytes.suffix(32))
    }

    /// The 64-byte Ed25519 signature of `message`.
    static func sign(_ message: [UInt8], privateKeyPath: String) throws -> [UInt8] {
        try withScratch { directory in
            let messageURL = directory.appendingPathComponent("message")
            try Data(message).write(to: messageURL)
            let signature = try require(try run(["pkeyutl", "-sign", "-rawin", "-inkey", privateKeyPath, "-in", messageURL.path]), "sign")
            guard signature.count == 64 else { throw CLIError(description: "openssl gave a \(signature.count)-byte signature; is \(privateKeyPath) an Ed25519 key?") }
            return Array(signature)
        }
    }

    /// Whether `signature` is a valid Ed25519 signature of `message` under the raw public key.
    static func verify(_ signature: [UInt8], of message: [UInt8], rawPublicKey: [UInt8]) throws -> Bool {
        try withScratch { directory in
            let keyURL = directory.appendingPathComponent("key.der")
            let messageURL = directory.appendingPathComponent("message")
            let signatureURL = directory.appendingPathComponent("signature")
            try Data(publicKeyDERPrefix + rawPublicKey).write(to: keyURL)
            try Data(message).write(to: messageURL)
            try Data(signature).write(to: signatureURL)
            let result = try run(["pkeyutl", "-verify", "-rawin", "-pubin", "-keyform", "DER", "-inkey", keyURL.path,
                                  "-in", messageURL.path, "-sigfile", signatureURL.path])
            let said = String(decoding: result.output, as: UTF8.self)
            if result.status == 0 && said.contains("Verified Successfully") { return true }
            if said.contains("Verification Failure") { return false }
            throw CLIError(description: "openssl could not check the signature: \(result.errors.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
