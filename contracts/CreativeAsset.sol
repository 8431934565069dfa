// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC721A} from "erc721a/contracts/IERC721A.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
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
 *    replaces a batch's directory root, `updateBatchContents` several at once (a reveal).
 *
 * Storage layout, chosen so that a batch costs a handful of slots instead of several per token:
 *  - ownership: one record per mint call (its recipient and last token id, one slot), found for any
 *    token through the record-start bitmap below (one or two word reads), plus one owner slot per
 *    token written at its first transfer. So the first transfer of a token costs the same wherever
 *    it sits in its batch: no walk over empty slots, no neighbour slot to initialise. Per-token
 *    Transfer events are kept; tokens are never burned;
 *  - assets: one word per 128 consecutive asset ids, low half = "minted" bits, high half =
 *    "starts a run" bits; a run is a stretch of consecutive asset ids minted to consecutive token
 *    ids, and only the run's first asset records its token id. `tokenOfAsset` finds the nearest
 *    run start with a bit scan, so it stays O(1) storage reads without a slot per token;
 *  - tokens: one bit per token marks where a mint record (a `mint` or a `mintBatch`) starts; a
 *    token finds its record by a bit scan backwards (its owner until its first transfer, and for a
 *    batch token its directory, at index `tokenId - batchStart`).
 *
 * The ERC-721 core is written here rather than inherited from ERC721A, whose owner lookup walks
 * back through one empty slot per token (up to MAX_BATCH_SIZE reads in a transfer). The external
 * interface, events and errors are ERC721A's (`IERC721A`), so the ABI is unchanged.
 */
contract CreativeAsset is IERC721A, ERC2981, AccessControl {
    // =============================================================
    //                          CONSTANTS
    // =============================================================

    /// @notice Role allowed to call `mint` and `mintBatch`.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @notice Role allowed to call `updateContent`, `updateBatchContent` and `updateBatchContents`.
    bytes32 public constant METADATA_EDITOR_ROLE = keccak256("METADATA_EDITOR_ROLE");

    /// @notice Largest `mintBatch`. Bounds the backward bit scans: a token's record starts at most
    /// MAX_BATCH_SIZE - 1 tokens before it, so in its own 256-token bitmap word or the one before
    /// (`_recordStartOf` reads no further back: keep this at most 257).
    uint256 public constant MAX_BATCH_SIZE = 128;

    /// @dev CIDv1 header: version 1, codec (raw 0x55 / dag-pb 0x70), multihash sha2-256 (0x12), 32 bytes (0x20).
    bytes4 private constant _RAW_CID_HEADER = 0x01551220;
    bytes4 private constant _DAG_PB_CID_HEADER = 0x01701220;

    /// @dev RFC 4648 base32, lower case: the multibase "b" alphabet.
    bytes32 private constant _BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

    uint256 private constant _HALF_WORD = 128;
    uint256 private constant _ASSET_POSITION_MASK = 127;
    uint256 private constant _TOKEN_POSITION_MASK = 255;

    /// @dev A mint record: recipient in the low 160 bits, the record's last token id above them.
    uint256 private constant _BITPOS_RECORD_LAST_TOKEN = 160;
    uint256 private constant _BITMASK_ADDRESS = (1 << 160) - 1;

    /// @dev keccak256("Transfer(address,address,uint256)").
    bytes32 private constant _TRANSFER_EVENT_SIGNATURE =
        0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef;

    // =============================================================
    //                           STORAGE
    // =============================================================

    string private _name;
    string private _symbol;

    /// @dev The id the next minted token gets. Ids start at 1 and tokens are never burned, so every
    ///      id in [1, _nextId) exists.
    uint256 private _nextId;

    /// @dev By first token of each mint record: `recipient | lastTokenId << 160`. Token 0 has no
    ///      record (its entry is 0), which the owner lookup uses for "no such token".
    mapping(uint256 recordStartTokenId => uint256 record) private _records;

    /// @dev A token's owner once it has been transferred; zero while its record's recipient holds it.
    mapping(uint256 tokenId => address owner) private _transferredOwner;

    mapping(address owner => uint256 balance) private _balances;
    mapping(uint256 tokenId => address approved) private _tokenApprovals;
    mapping(address owner => mapping(address operator => bool approved)) private _operatorApprovals;

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

    /// @notice `updateBatchContents` needs one root per batch start, at least one: got `starts` and `roots`.
    error BatchListMismatch(uint256 starts, uint256 roots);

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
    ) {
        _name = name_;
        _symbol = symbol_;
        _nextId = 1;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
        _grantRole(METADATA_EDITOR_ROLE, admin);
        _contractURI = contractURI_;
        emit ContractURIUpdated();
        if (royaltyReceiver != address(0)) {
            _setDefaultRoyalty(royaltyReceiver, royaltyBasisPoints);
            emit DefaultRoyaltyUpdated(royaltyReceiver, royaltyBasisPoints);
        }
        // Token 0 never exists; marking it keeps the first mint from paying a zero-to-nonzero store,
        // and a scan that ends on it finds the empty record of token 0 ("no such token").
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
        tokenId = _nextId;

        uint256 wordIndex = assetId >> 7;
        uint256 bit = 1 << (assetId & _ASSET_POSITION_MASK);
        uint256 word = _assetWords[wordIndex];
        if (word & bit != 0) revert AssetAlreadyMinted(assetId, tokenOfAsset(assetId));
        _assetWords[wordIndex] = word | bit | (bit << _HALF_WORD);
        _runStartToken[assetId] = tokenId;

        _markRecordStart(tokenId);
        _tokenDigest[tokenId] = metadataDigest;
        emit AssetMinted(assetId, tokenId, metadataDigest);

        _safeMintRecord(to, 1);
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
        firstTokenId = _nextId;

        _claimAscendingAssets(assetIds, firstTokenId);
        _markRecordStart(firstTokenId);
        _batchRoot[firstTokenId] = contentRoot;
        emit BatchMinted(to, firstTokenId, contentRoot, assetIds);

        _safeMintRecord(to, quantity);
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

    /**
     * @dev Mints tokens `_nextId .. _nextId + quantity - 1` to `to` as one record: one record slot,
     *      one balance update, one `Transfer` per token. The caller has marked the record start.
     *      If `to` is a contract, each token must be accepted by its `onERC721Received`.
     */
    function _safeMintRecord(address to, uint256 quantity) private {
        if (to == address(0)) revert MintToZeroAddress();
        uint256 first = _nextId;
        uint256 end;
        unchecked {
            // quantity is 1..MAX_BATCH_SIZE and token ids count up from 1: no overflow.
            end = first + quantity;
            _records[first] = uint256(uint160(to)) | ((end - 1) << _BITPOS_RECORD_LAST_TOKEN);
            _balances[to] += quantity;
        }
        _nextId = end;
        assembly {
            let toMasked := and(to, _BITMASK_ADDRESS)
            for { let tokenId := first } lt(tokenId, end) { tokenId := add(tokenId, 1) } {
                log4(0, 0, _TRANSFER_EVENT_SIGNATURE, 0, toMasked, tokenId)
            }
        }
        if (to.code.length != 0) {
            for (uint256 tokenId = first; tokenId < end; ++tokenId) {
                if (!_checkOnERC721Received(address(0), to, tokenId, "")) {
                    revert TransferToNonERC721ReceiverImplementer();
                }
            }
            // A receiver that minted again in its callback would have moved the counter.
            if (_nextId != end) revert();
        }
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
        _updateBatchContent(firstTokenId, newContentRoot);
    }

    /**
     * @notice `updateBatchContent` for several batches in one transaction: batch
     *         `firstTokenIds[i]` gets the directory `newContentRoots[i]`. A collection revealed
     *         after its mint switches every batch it spans at once (its tokens may share batches
     *         with other tokens, whose entries the new directories keep). All or nothing; emits
     *         `BatchContentUpdated` and ERC-4906 `BatchMetadataUpdate` once per batch.
     * @param firstTokenIds First token of each batch (each a `mintBatch` start).
     * @param newContentRoots sha2-256 digest of each batch's new dag-pb directory.
     */
    function updateBatchContents(uint256[] calldata firstTokenIds, bytes32[] calldata newContentRoots)
        external
        onlyRole(METADATA_EDITOR_ROLE)
    {
        uint256 count = firstTokenIds.length;
        if (count == 0 || count != newContentRoots.length) revert BatchListMismatch(count, newContentRoots.length);
        for (uint256 i; i < count; ++i) {
            _updateBatchContent(firstTokenIds[i], newContentRoots[i]);
        }
    }

    /// @dev Replaces one batch's directory root, drops the batch's overrides, emits both events.
    function _updateBatchContent(uint256 firstTokenId, bytes32 newContentRoot) private {
        if (_batchRoot[firstTokenId] == 0) revert NotABatchStart(firstTokenId);
        if (newContentRoot == 0) revert EmptyContentDigest();
        uint256 lastTokenId = _records[firstTokenId] >> _BITPOS_RECORD_LAST_TOKEN;
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
        return _nextId;
    }

    /// @notice ERC-165: ERC-721, ERC-721 Metadata, ERC-4906, ERC-2981 and AccessControl.
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(IERC721A, ERC2981, AccessControl)
        returns (bool)
    {
        return interfaceId == 0x80ac58cd // ERC-721
            || interfaceId == 0x5b5e139f // ERC-721 Metadata
            || interfaceId == 0x49064906 // ERC-4906
            || ERC2981.supportsInterface(interfaceId) // ERC-2981, ERC-165
            || AccessControl.supportsInterface(interfaceId);
    }

    // =============================================================
    //                           ERC-721
    // =============================================================

    /// @notice ERC-721 Metadata name.
    function name() external view override returns (string memory) {
        return _name;
    }

    /// @notice ERC-721 Metadata symbol.
    function symbol() external view override returns (string memory) {
        return _symbol;
    }

    /// @notice Number of tokens (none is ever burned).
    function totalSupply() external view override returns (uint256 result) {
        unchecked {
            result = _nextId - 1;
        }
    }

    function balanceOf(address owner) external view override returns (uint256) {
        if (owner == address(0)) revert BalanceQueryForZeroAddress();
        return _balances[owner];
    }

    /// @notice The owner of `tokenId`: a few storage reads at any position in any batch.
    function ownerOf(uint256 tokenId) public view override returns (address) {
        address owner = _transferredOwner[tokenId];
        return owner != address(0) ? owner : _recordOwnerOf(tokenId);
    }

    function approve(address to, uint256 tokenId) external payable override {
        address owner = ownerOf(tokenId);
        if (msg.sender != owner && !_operatorApprovals[owner][msg.sender]) {
            revert ApprovalCallerNotOwnerNorApproved();
        }
        _tokenApprovals[tokenId] = to;
        emit Approval(owner, to, tokenId);
    }

    function getApproved(uint256 tokenId) external view override returns (address) {
        if (!_exists(tokenId)) revert ApprovalQueryForNonexistentToken();
        return _tokenApprovals[tokenId];
    }

    function setApprovalForAll(address operator, bool approved) external override {
        _operatorApprovals[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    function isApprovedForAll(address owner, address operator) external view override returns (bool) {
        return _operatorApprovals[owner][operator];
    }

    /**
     * @notice Moves `tokenId` from `from` to `to`. The caller is `from`, the token's approved
     *         address or an operator of `from`. Writes the token's own owner slot (at the first
     *         transfer, the slot's first write), both balances, and clears a set approval.
     */
    function transferFrom(address from, address to, uint256 tokenId) public payable override {
        address owner = ownerOf(tokenId);
        if (owner != from) revert TransferFromIncorrectOwner();
        address approved = _tokenApprovals[tokenId];
        if (msg.sender != from && msg.sender != approved && !_operatorApprovals[from][msg.sender]) {
            revert TransferCallerNotOwnerNorApproved();
        }
        if (to == address(0)) revert TransferToZeroAddress();
        if (approved != address(0)) delete _tokenApprovals[tokenId];
        unchecked {
            // from owns tokenId, so its balance is at least 1; to's cannot reach 2**256.
            --_balances[from];
            ++_balances[to];
        }
        _transferredOwner[tokenId] = to;
        emit Transfer(from, to, tokenId);
    }

    function safeTransferFrom(address from, address to, uint256 tokenId) external payable override {
        safeTransferFrom(from, to, tokenId, "");
    }

    /// @notice `transferFrom`, then, if `to` is a contract, requires its `onERC721Received` to accept.
    function safeTransferFrom(address from, address to, uint256 tokenId, bytes memory _data)
        public
        payable
        override
    {
        transferFrom(from, to, tokenId);
        if (to.code.length != 0 && !_checkOnERC721Received(from, to, tokenId, _data)) {
            revert TransferToNonERC721ReceiverImplementer();
        }
    }

    // =============================================================
    //                          INTERNALS
    // =============================================================

    /// @dev Tokens are never burned (there is no burn function), so every id below the next one
    ///      exists. Revisit this, the owner lookup and totalSupply if burning is ever added.
    function _exists(uint256 tokenId) private view returns (bool) {
        return tokenId != 0 && tokenId < _nextId;
    }

    /**
     * @dev The nearest record start at or below `tokenId`, looked for in `tokenId`'s bitmap word and
     *      the one before (an existing token's record starts at most MAX_BATCH_SIZE - 1 tokens
     *      earlier). 0 when neither word has one, which only an id far beyond the newest token gets.
     */
    function _recordStartOf(uint256 tokenId) private view returns (uint256) {
        uint256 wordIndex = tokenId >> 8;
        uint256 starts;
        unchecked {
            // Bits at or below tokenId's position; 2 << 255 wraps to 0 and 0 - 1 keeps all bits.
            starts = _recordStartWords[wordIndex] & ((2 << (tokenId & _TOKEN_POSITION_MASK)) - 1);
            // Word 0 always has token 0's bit, so wordIndex > 0 here.
            if (starts == 0) starts = _recordStartWords[--wordIndex];
        }
        if (starts == 0) return 0;
        return (wordIndex << 8) | Math.log2(starts);
    }

    /// @dev Owner of a token never transferred: its record's recipient. Reverts for a token that
    ///      does not exist: id 0 (token 0's record is empty) or past the last token of its record.
    function _recordOwnerOf(uint256 tokenId) private view returns (address) {
        uint256 record = _records[_recordStartOf(tokenId)];
        if (record == 0 || tokenId > record >> _BITPOS_RECORD_LAST_TOKEN) revert OwnerQueryForNonexistentToken();
        return address(uint160(record));
    }

    /// @dev ERC721A's receiver check: a contract `to` must return the selector; its revert reason
    ///      is passed on, and an empty one becomes TransferToNonERC721ReceiverImplementer.
    function _checkOnERC721Received(address from, address to, uint256 tokenId, bytes memory data)
        private
        returns (bool)
    {
        try IERC721Receiver(to).onERC721Received(msg.sender, from, tokenId, data) returns (bytes4 retval) {
            return retval == IERC721Receiver.onERC721Received.selector;
        } catch (bytes memory reason) {
            if (reason.length == 0) revert TransferToNonERC721ReceiverImplementer();
            assembly ("memory-safe") {
                revert(add(32, reason), mload(reason))
            }
        }
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
