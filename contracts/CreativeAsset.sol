// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC721A} from "erc721a/contracts/ERC721A.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/**
 * @title CreativeAsset
 * @notice ERC-721 collection for generated creative assets whose metadata lives on IPFS.
 *
 * Every token is minted for an off-chain `assetId` (see `contracts/asset-id.ts`: high 192 bits =
 * hash of the collection id, low 64 bits = the asset's index), and the contract refuses to mint
 * the same asset twice, so a minter that crashes and retries can never create a duplicate.
 *
 * Content provenance: the contract stores sha2-256 digests, not URI strings, and rebuilds the
 * CIDv1 on-chain.
 *  - `mint` stores the digest of a single raw block (the metadata JSON added with
 *    `ipfs add --cid-version 1`), so `tokenURI` = `ipfs://bafkrei...`.
 *  - `mintBatch` stores one digest per batch: the root of a UnixFS (dag-pb) directory whose entry
 *    `i` is the metadata of the batch's i-th token, so `tokenURI` = `ipfs://bafybei.../<i>`.
 *  - `updateContent` overrides one token with a new raw-block digest; `updateBatchContent`
 *    replaces a batch's directory root.
 *
 * Storage layout, chosen so that a batch costs a handful of slots instead of several per token:
 *  - ownership: ERC721A (one ownership slot per batch, per-token Transfer events kept);
 *  - assets: one word per 128 consecutive asset ids, low half = "minted" bits, high half =
 *    "starts a run" bits; a run is a stretch of consecutive asset ids minted to consecutive token
 *    ids, and only the run's first asset records its token id. `tokenOfAsset` finds the nearest
 *    run start with a bit scan, so it stays O(1) storage reads without a slot per token;
 *  - tokens: one bit per token marks where a mint record (a `mint` or a `mintBatch`) starts; a
 *    batch token finds its batch by a bit scan backwards and its directory index is
 *    `tokenId - batchStart`.
 */
contract CreativeAsset is ERC721A, ERC2981, AccessControl {
    // =============================================================
    //                          CONSTANTS
    // =============================================================

    /// @notice Role allowed to call `mint` and `mintBatch`.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @notice Role allowed to call `updateContent` and `updateBatchContent`.
    bytes32 public constant METADATA_EDITOR_ROLE = keccak256("METADATA_EDITOR_ROLE");

    /// @notice Largest `mintBatch`. Bounds ERC721A's ownership walk (the first transfer of a
    /// batch's last token reads up to this many slots) and the bit scans in the views.
    uint256 public constant MAX_BATCH_SIZE = 128;

    /// @dev CIDv1 header: version 1, codec (raw 0x55 / dag-pb 0x70), multihash sha2-256 (0x12), 32 bytes (0x20).
    bytes4 private constant _RAW_CID_HEADER = 0x01551220;
    bytes4 private constant _DAG_PB_CID_HEADER = 0x01701220;

    /// @dev RFC 4648 base32, lower case: the multibase "b" alphabet.
    bytes32 private constant _BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

    uint256 private constant _HALF_WORD = 128;
    uint256 private constant _ASSET_POSITION_MASK = 127;
    uint256 private constant _TOKEN_POSITION_MASK = 255;

    // =============================================================
    //                           STORAGE
    // =============================================================

    /// @dev `assetId >> 7` => bit `assetId & 127` set once minted; bit `128 + (assetId & 127)` set
    /// when the asset starts a run.
    mapping(uint256 assetWord => uint256 bits) private _assetWords;

    /// @dev Token id of the first asset of each run (only run starts have an entry).
    mapping(uint256 runStartAssetId => uint256 tokenId) private _runStartToken;

    /// @dev `tokenId >> 8` => bit `tokenId & 255` set when a mint record starts at that token.
    mapping(uint256 tokenWord => uint256 bits) private _recordStartWords;

    /// @dev Directory root digest of each `mintBatch`, by the batch's first token id.
    mapping(uint256 firstTokenId => bytes32 rootDigest) private _batchRoot;

    /// @dev Raw-block metadata digest of a `mint`ed token or of an `updateContent` override.
    /// Takes precedence over the batch directory.
    mapping(uint256 tokenId => bytes32 metadataDigest) private _tokenDigest;

    string private _contractURI;

    // =============================================================
    //                       EVENTS AND ERRORS
    // =============================================================

    /// @notice A single asset was minted by `mint`. Indexed by asset so that a client can find
    /// the mint of an asset with one `eth_getLogs` filter.
    event AssetMinted(uint256 indexed assetId, uint256 indexed tokenId, bytes32 metadataDigest);

    /// @notice `mintBatch` minted `assetIds[i]` as token `firstTokenId + i`, whose metadata is
    /// entry `i` of the directory `contentRoot`.
    event BatchMinted(address indexed to, uint256 indexed firstTokenId, bytes32 contentRoot, uint256[] assetIds);

    /// @notice One token's metadata was replaced by the raw block `metadataDigest`.
    event ContentUpdated(uint256 indexed tokenId, bytes32 metadataDigest);

    /// @notice The directory of the batch `firstTokenId..lastTokenId` was replaced by `contentRoot`.
    event BatchContentUpdated(uint256 indexed firstTokenId, uint256 lastTokenId, bytes32 contentRoot);

    /// @notice ERC-4906: the metadata of `_tokenId` changed.
    event MetadataUpdate(uint256 _tokenId);

    /// @notice ERC-4906: the metadata of tokens `_fromTokenId..=_toTokenId` changed.
    event BatchMetadataUpdate(uint256 _fromTokenId, uint256 _toTokenId);

    /// @notice ERC-7572: `contractURI()` changed.
    event ContractURIUpdated();

    /// @notice The default ERC-2981 royalty changed.
    event DefaultRoyaltyUpdated(address receiver, uint96 feeBasisPoints);

    /// @notice `assetId` already has a token (`tokenId`); an asset is minted at most once.
    error AssetAlreadyMinted(uint256 assetId, uint256 tokenId);

    /// @notice `mintBatch` asset ids must be strictly ascending; `assetIds[index]` is not.
    error AssetIdsNotAscending(uint256 index, uint256 assetId);

    /// @notice A batch must hold between 1 and `maxSize` assets.
    error InvalidBatchSize(uint256 size, uint256 maxSize);

    /// @notice A content digest of zero points at nothing.
    error EmptyContentDigest();

    /// @notice `tokenId` has not been minted.
    error NonexistentToken(uint256 tokenId);

    /// @notice `tokenId` is not the first token of a `mintBatch`.
    error NotABatchStart(uint256 tokenId);

    // =============================================================
    //                         CONSTRUCTOR
    // =============================================================

    /**
     * @param name_ ERC-721 name.
     * @param symbol_ ERC-721 symbol.
     * @param contractURI_ ERC-7572 collection metadata URI.
     * @param royaltyReceiver ERC-2981 receiver; `address(0)` for no royalty.
     * @param royaltyBasisPoints ERC-2981 fee in basis points (10000 = 100%).
     * @param admin Receives DEFAULT_ADMIN_ROLE, MINTER_ROLE and METADATA_EDITOR_ROLE.
     */
    constructor(
        string memory name_,
        string memory symbol_,
        string memory contractURI_,
        address royaltyReceiver,
        uint96 royaltyBasisPoints,
        address admin
    ) ERC721A(name_, symbol_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
        _grantRole(METADATA_EDITOR_ROLE, admin);
        _contractURI = contractURI_;
        emit ContractURIUpdated();
        if (royaltyReceiver != address(0)) {
            _setDefaultRoyalty(royaltyReceiver, royaltyBasisPoints);
            emit DefaultRoyaltyUpdated(royaltyReceiver, royaltyBasisPoints);
        }
        // Token 0 never exists; marking it keeps the first mint from paying a zero-to-nonzero store.
        _recordStartWords[0] = 1;
    }

    // =============================================================
    //                           MINTING
    // =============================================================

    /**
     * @notice Mints one token for `assetId` to `to`.
     * @param to Recipient; a contract must implement IERC721Receiver.
     * @param assetId Off-chain asset id; reverts with `AssetAlreadyMinted` if it has a token.
     * @param metadataDigest sha2-256 digest of the metadata JSON stored as one raw block
     *        (CIDv1 `bafkrei...`).
     * @return tokenId The new token.
     */
    function mint(address to, uint256 assetId, bytes32 metadataDigest)
        external
        onlyRole(MINTER_ROLE)
        returns (uint256 tokenId)
    {
        if (metadataDigest == 0) revert EmptyContentDigest();
        tokenId = _nextTokenId();

        uint256 wordIndex = assetId >> 7;
        uint256 bit = 1 << (assetId & _ASSET_POSITION_MASK);
        uint256 word = _assetWords[wordIndex];
        if (word & bit != 0) revert AssetAlreadyMinted(assetId, tokenOfAsset(assetId));
        _assetWords[wordIndex] = word | bit | (bit << _HALF_WORD);
        _runStartToken[assetId] = tokenId;

        _markRecordStart(tokenId);
        _tokenDigest[tokenId] = metadataDigest;
        emit AssetMinted(assetId, tokenId, metadataDigest);

        _safeMint(to, 1);
    }

    /**
     * @notice Mints one token per asset to `to`: `assetIds[i]` becomes token `firstTokenId + i`.
     * @dev All or nothing: if any asset already has a token the whole batch reverts with
     *      `AssetAlreadyMinted` naming the first such asset (in ascending order) and its token.
     * @param to Recipient of every token of the batch.
     * @param assetIds Strictly ascending asset ids, 1..MAX_BATCH_SIZE of them.
     * @param contentRoot sha2-256 digest of the dag-pb UnixFS directory (CIDv1 `bafybei...`)
     *        whose entry named `i` is the metadata of `assetIds[i]`.
     * @return firstTokenId The token of `assetIds[0]`.
     */
    function mintBatch(address to, uint256[] calldata assetIds, bytes32 contentRoot)
        external
        onlyRole(MINTER_ROLE)
        returns (uint256 firstTokenId)
    {
        uint256 quantity = assetIds.length;
        if (quantity == 0 || quantity > MAX_BATCH_SIZE) revert InvalidBatchSize(quantity, MAX_BATCH_SIZE);
        if (contentRoot == 0) revert EmptyContentDigest();
        firstTokenId = _nextTokenId();

        _claimAscendingAssets(assetIds, firstTokenId);
        _markRecordStart(firstTokenId);
        _batchRoot[firstTokenId] = contentRoot;
        emit BatchMinted(to, firstTokenId, contentRoot, assetIds);

        _safeMint(to, quantity);
    }

    /// @dev Sets the minted (and run start) bits of `assetIds`, writing each asset word once.
    function _claimAscendingAssets(uint256[] calldata assetIds, uint256 firstTokenId) private {
        uint256 quantity = assetIds.length;
        uint256 previousId = assetIds[0];
        uint256 wordIndex = previousId >> 7;
        uint256 word = _assetWords[wordIndex];
        for (uint256 i; i < quantity; ) {
            uint256 assetId = assetIds[i];
            bool startsRun = i == 0;
            if (!startsRun) {
                if (assetId <= previousId) revert AssetIdsNotAscending(i, assetId);
                // No overflow: previousId < assetId.
                startsRun = assetId != previousId + 1;
                uint256 nextWordIndex = assetId >> 7;
                if (nextWordIndex != wordIndex) {
                    _assetWords[wordIndex] = word;
                    wordIndex = nextWordIndex;
                    word = _assetWords[nextWordIndex];
                }
            }
            uint256 bit = 1 << (assetId & _ASSET_POSITION_MASK);
            // tokenOfAsset reads storage: correct here because every asset between this one and
            // its run start was minted earlier, so this batch wrote no bits in that stretch.
            if (word & bit != 0) revert AssetAlreadyMinted(assetId, tokenOfAsset(assetId));
            if (startsRun) {
                word |= bit | (bit << _HALF_WORD);
                _runStartToken[assetId] = firstTokenId + i;
            } else {
                word |= bit;
            }
            previousId = assetId;
            unchecked {
                ++i;
            }
        }
        _assetWords[wordIndex] = word;
    }

    function _markRecordStart(uint256 tokenId) private {
        _recordStartWords[tokenId >> 8] |= 1 << (tokenId & _TOKEN_POSITION_MASK);
    }

    // =============================================================
    //                       CONTENT UPDATES
    // =============================================================

    /**
     * @notice Replaces one token's metadata with the raw block `newMetadataDigest`
     *         (`ipfs://bafkrei...`). Emits ERC-4906 `MetadataUpdate`.
     */
    function updateContent(uint256 tokenId, bytes32 newMetadataDigest) external onlyRole(METADATA_EDITOR_ROLE) {
        if (!_exists(tokenId)) revert NonexistentToken(tokenId);
        if (newMetadataDigest == 0) revert EmptyContentDigest();
        _tokenDigest[tokenId] = newMetadataDigest;
        emit ContentUpdated(tokenId, newMetadataDigest);
        emit MetadataUpdate(tokenId);
    }

    /**
     * @notice Replaces the directory of the batch starting at `firstTokenId`; also drops the
     *         batch's per-token overrides so the new directory is authoritative for every token.
     *         Emits ERC-4906 `BatchMetadataUpdate(firstTokenId, lastTokenId)`.
     */
    function updateBatchContent(uint256 firstTokenId, bytes32 newContentRoot)
        external
        onlyRole(METADATA_EDITOR_ROLE)
    {
        if (_batchRoot[firstTokenId] == 0) revert NotABatchStart(firstTokenId);
        if (newContentRoot == 0) revert EmptyContentDigest();
        uint256 lastTokenId = _lastTokenOfRecord(firstTokenId);
        _batchRoot[firstTokenId] = newContentRoot;
        for (uint256 tokenId = firstTokenId; tokenId <= lastTokenId; ++tokenId) {
            if (_tokenDigest[tokenId] != 0) delete _tokenDigest[tokenId];
        }
        emit BatchContentUpdated(firstTokenId, lastTokenId, newContentRoot);
        emit BatchMetadataUpdate(firstTokenId, lastTokenId);
    }

    // =============================================================
    //                            ADMIN
    // =============================================================

    /// @notice Sets the ERC-7572 collection metadata URI.
    function setContractURI(string calldata newContractURI) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _contractURI = newContractURI;
        emit ContractURIUpdated();
    }

    /// @notice Sets the ERC-2981 royalty for every token.
    function setDefaultRoyalty(address receiver, uint96 feeBasisPoints) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDefaultRoyalty(receiver, feeBasisPoints);
        emit DefaultRoyaltyUpdated(receiver, feeBasisPoints);
    }

    // =============================================================
    //                            VIEWS
    // =============================================================

    /**
     * @notice The token minted for `assetId`, or 0 if the asset has none (token ids start at 1).
     * @dev A few storage reads: the asset's word, at most MAX_BATCH_SIZE / 128 + 1 earlier words
     *      to find its run start, and the run start's token id.
     */
    function tokenOfAsset(uint256 assetId) public view returns (uint256 tokenId) {
        uint256 wordIndex = assetId >> 7;
        uint256 position = assetId & _ASSET_POSITION_MASK;
        uint256 word = _assetWords[wordIndex];
        if ((word >> position) & 1 == 0) return 0;
        // Run start bits at or below `position`; the highest one starts this asset's run.
        uint256 runStarts = (word >> _HALF_WORD) & ((2 << position) - 1);
        while (runStarts == 0) {
            // A minted asset always has a run start at or below it, so this cannot underflow.
            --wordIndex;
            runStarts = _assetWords[wordIndex] >> _HALF_WORD;
        }
        uint256 runStart = (wordIndex << 7) | Math.log2(runStarts);
        return _runStartToken[runStart] + (assetId - runStart);
    }

    /**
     * @notice Where `tokenId`'s metadata lives.
     * @return digest sha2-256 digest inside the CID: a raw block, or the batch directory root.
     * @return isDirectory True when `digest` is a dag-pb directory and the metadata is its entry
     *         named `indexInDirectory`.
     * @return indexInDirectory `tokenId - firstTokenId` of its batch (0 for raw blocks).
     */
    function contentOf(uint256 tokenId)
        public
        view
        returns (bytes32 digest, bool isDirectory, uint256 indexInDirectory)
    {
        if (!_exists(tokenId)) revert NonexistentToken(tokenId);
        digest = _tokenDigest[tokenId];
        if (digest != 0) return (digest, false, 0);
        uint256 firstTokenId = _recordStartOf(tokenId);
        return (_batchRoot[firstTokenId], true, tokenId - firstTokenId);
    }

    /// @notice `ipfs://<CIDv1 base32>` of the raw metadata block, or `ipfs://<directory CID>/<index>`.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        (bytes32 digest, bool isDirectory, uint256 indexInDirectory) = contentOf(tokenId);
        if (!isDirectory) return string.concat("ipfs://", _cidV1Base32(_RAW_CID_HEADER, digest));
        return string.concat(
            "ipfs://", _cidV1Base32(_DAG_PB_CID_HEADER, digest), "/", Strings.toString(indexInDirectory)
        );
    }

    /// @notice ERC-7572 collection metadata URI.
    function contractURI() external view returns (string memory) {
        return _contractURI;
    }

    /// @notice The id the next minted token will get.
    function nextTokenId() external view returns (uint256) {
        return _nextTokenId();
    }

    /// @notice ERC-165: ERC-721, ERC-721 Metadata, ERC-4906, ERC-2981 and AccessControl.
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721A, ERC2981, AccessControl)
        returns (bool)
    {
        return interfaceId == 0x49064906 // ERC-4906
            || ERC721A.supportsInterface(interfaceId) || ERC2981.supportsInterface(interfaceId)
            || AccessControl.supportsInterface(interfaceId);
    }

    // =============================================================
    //                          INTERNALS
    // =============================================================

    function _startTokenId() internal pure override returns (uint256) {
        return 1;
    }

    /// @dev Tokens are never burned (there is no burn function), so every id below the next one
    ///      exists. ERC721A's version walks back through the ownership slots to check a burn flag,
    ///      which costs up to MAX_BATCH_SIZE reads in tokenURI. Drop this if burning is ever added.
    function _exists(uint256 tokenId) internal view override returns (bool) {
        return tokenId >= _startTokenId() && tokenId < _nextTokenId();
    }

    /// @dev First token of the mint record holding `tokenId` (which must exist).
    function _recordStartOf(uint256 tokenId) private view returns (uint256) {
        uint256 wordIndex = tokenId >> 8;
        uint256 starts;
        unchecked {
            // Bits at or below tokenId's position; 2 << 255 wraps to 0 and 0 - 1 keeps all bits.
            starts = _recordStartWords[wordIndex] & ((2 << (tokenId & _TOKEN_POSITION_MASK)) - 1);
        }
        while (starts == 0) {
            // Token 1 starts the first record, so an existing token always finds one.
            --wordIndex;
            starts = _recordStartWords[wordIndex];
        }
        return (wordIndex << 8) | Math.log2(starts);
    }

    /// @dev Last token of the record starting at `firstTokenId`: the token before the next record.
    function _lastTokenOfRecord(uint256 firstTokenId) private view returns (uint256) {
        uint256 end = _nextTokenId();
        uint256 tokenId = firstTokenId + 1;
        while (tokenId < end && (_recordStartWords[tokenId >> 8] >> (tokenId & _TOKEN_POSITION_MASK)) & 1 == 0) {
            ++tokenId;
        }
        return tokenId - 1;
    }

    /// @dev Multibase base32 ("b" + RFC 4648 lower case, no padding) of the 36-byte CIDv1
    ///      `header ‖ digest`: 288 bits = 57 full 5-bit characters + 1 for the last 3 bits.
    function _cidV1Base32(bytes4 header, bytes32 digest) private pure returns (string memory) {
        // The 288-bit CID as two words: `high` holds its first 32 bits, `low` the digest.
        uint256 high = uint32(header);
        uint256 low = uint256(digest);
        bytes memory text = new bytes(59);
        text[0] = "b";
        unchecked {
            for (uint256 k; k < 57; ++k) {
                // Character k is bits [shift, shift + 5) counted from the CID's last bit.
                uint256 shift = 283 - 5 * k;
                uint256 value = shift >= 256 ? high >> (shift - 256) : (low >> shift) | (high << (256 - shift));
                text[k + 1] = _BASE32_ALPHABET[value & 31];
            }
        }
        // The last 3 bits, padded with two zero bits.
        text[58] = _BASE32_ALPHABET[(low << 2) & 31];
        return string(text);
    }
}
